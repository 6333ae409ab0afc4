from .ikun_transforms import (CLIP_MEAN, CLIP_STD, CropLocalGlobal, LoadTrackWindowFrames,
                              PackIKUNInputs, local_and_global, pad_to_square)

__all__ = ['CLIP_MEAN', 'CLIP_STD', 'CropLocalGlobal', 'LoadTrackWindowFrames', 'PackIKUNInputs',
           'local_and_global', 'pad_to_square']
from .referring_transforms import PackReferringVideo  # noqa: F401,E402
from .sot_transforms import (LoadSOTImages, SOTBrightnessJitter, SOTCropFlip,  # noqa: F401
                             SOTGrayscale, SOTJointFlip, SOTTemplateSearchCrop, center_box)
from .sot_formatting import PackSOTFrame, PackSOTInputs  # noqa: F401
