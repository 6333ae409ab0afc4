"""ReID for the trackers: mmdet's ``BaseReID`` built with its weights (:class:`CheckpointReID`),
and the crop helpers both the ReID data export and the trackers use.

The ReID model itself is mmdet's (``BaseReID`` with a ``GlobalAveragePooling`` neck and a
``LinearReIDHead``; see ``configs/reid/``); the crop helpers fix what both sides must agree on:
how a box becomes a crop, and how crops are normalised like the ReID's training data.
"""
from .checkpoint_reid import CheckpointReID
from .crops import box_window, crop_and_resize, denormalize_pixels, reid_normalize

__all__ = ['CheckpointReID', 'box_window', 'crop_and_resize', 'denormalize_pixels',
           'reid_normalize']
