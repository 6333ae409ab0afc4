"""Multi-object trackers (mmdet 3.x tracker API)."""
from .jde_tracker import JDETracker
from .interpolation import check_interpolation, interpolate_tracks
from .neuralsort_tracker import (NeuralSORTTracker, direction_consistency_cost,
                                 linear_assignment, visible_fraction)
from .tracking_by_detection import TrackingByDetection, track_results_array, track_video
from .tracks_from_file import TracksFromFile

__all__ = [
    'check_interpolation', 'JDETracker', 'NeuralSORTTracker', 'direction_consistency_cost', 'interpolate_tracks',
    'linear_assignment', 'visible_fraction', 'TrackingByDetection', 'TracksFromFile',
    'track_results_array', 'track_video'
]
