"""Multi-object trackers (mmdet 3.x tracker API)."""
from .interpolation import check_interpolation, interpolate_tracks
from .jde_tracker import JDETracker
from .neuralsort_tracker import (NeuralSORTTracker, direction_consistency_cost, linear_assignment,
                                 visible_fraction)
from .tracking_by_detection import TrackingByDetection, track_results_array, track_video
from .tracks_from_file import TracksFromFile

__all__ = [
    'JDETracker', 'NeuralSORTTracker', 'TrackingByDetection', 'TracksFromFile',
    'check_interpolation', 'direction_consistency_cost', 'interpolate_tracks', 'linear_assignment',
    'track_results_array', 'track_video', 'visible_fraction'
]
