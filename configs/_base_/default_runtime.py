# Runtime shared by every ikun_mm config: mmdet's runtime with ikun_mm as the default scope, so
# configs name mmdet modules (OCSORTTracker, KalmanFilter, ...) and ikun_mm modules unprefixed.
_base_ = ['mmdet::_base_/default_runtime.py']

default_scope = 'ikun_mm'
# nccl on GPUs; tools/train.py and tools/test.py switch to gloo when CUDA is unavailable.
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
log_processor = dict(type='LogProcessor', window_size=10, by_epoch=True)
# A NaN/inf loss stops training with an error before any checkpoint of it is saved
# (ikun_mm/engine/hooks/finite_loss_hook.py); default_hooks.finite_loss.enabled=False
# turns it off.
default_hooks = dict(finite_loss=dict(type='FiniteLossHook'))
