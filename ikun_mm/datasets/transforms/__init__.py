
from .sot_transforms import LoadSOTImages, SOTTemplateSearchCrop  # noqa: F401
from .sot_formatting import PackSOTFrame, PackSOTInputs  # noqa: F401
