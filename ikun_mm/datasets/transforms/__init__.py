from .ikun_transforms import (CLIP_MEAN, CLIP_STD, CropLocalGlobal, LoadTrackWindowFrames,
                              PackIKUNInputs, local_and_global, pad_to_square)
from .referring_transforms import PackReferringVideo
from .sot_formatting import PackSOTFrame, PackSOTInputs
from .sot_transforms import (LoadSOTImages, SOTBrightnessJitter, SOTCropFlip, SOTGrayscale,
                             SOTJointFlip, SOTTemplateSearchCrop, center_box)

__all__ = [
    'CLIP_MEAN', 'CLIP_STD', 'CropLocalGlobal', 'LoadSOTImages', 'LoadTrackWindowFrames',
    'PackIKUNInputs', 'PackReferringVideo', 'PackSOTFrame', 'PackSOTInputs', 'SOTBrightnessJitter',
    'SOTCropFlip', 'SOTGrayscale', 'SOTJointFlip', 'SOTTemplateSearchCrop', 'center_box',
    'local_and_global', 'pad_to_square'
]
