"""Data transforms, registered in ``TRANSFORMS``.

One file naming rule, ``{task}_{kind}.py``, after mmdet's split of ``loading.py`` /
``transforms.py`` / ``formatting.py``: ``{task}_transforms.py`` loads the images and changes
pixels and boxes (loading, crops, augmentations); ``{task}_formatting.py`` packs the results into
``inputs`` + data samples (the ``Pack*`` transforms that end each pipeline). Tasks: ``ikun``
(track windows for iKUN), ``referring`` (whole videos for referring tracking) and ``sot``
(single-object tracking).
"""
from .ikun_formatting import PackIKUNInputs
from .ikun_transforms import CropLocalGlobal, LoadTrackWindowFrames, fill_crop_sizes
from .referring_formatting import PackReferringVideo
from .sot_formatting import PackSOTFrame, PackSOTInputs
from .sot_transforms import (LoadSOTImages, SOTBrightnessJitter, SOTCropFlip, SOTGrayscale,
                             SOTJointFlip, SOTTemplateSearchCrop, center_box)

__all__ = [
    'CropLocalGlobal', 'LoadSOTImages', 'LoadTrackWindowFrames', 'PackIKUNInputs',
    'PackReferringVideo', 'PackSOTFrame', 'PackSOTInputs', 'SOTBrightnessJitter', 'SOTCropFlip',
    'SOTGrayscale', 'SOTJointFlip', 'SOTTemplateSearchCrop', 'center_box', 'fill_crop_sizes'
]
