"""Motion models: the Neural Kalman Filter and its training wrapper."""
from .nkf import (NeuralKalmanFilter, NoiseNet, fixed_measurement_var, fixed_process_var,
                  kalman_predict, kalman_project, kalman_update, mahalanobis_sq)
from .nkf_regressor import NKFRegressor, box_regression_error

__all__ = [
    'NKFRegressor', 'NeuralKalmanFilter', 'NoiseNet', 'box_regression_error',
    'fixed_measurement_var', 'fixed_process_var', 'kalman_predict', 'kalman_project',
    'kalman_update', 'mahalanobis_sq'
]
