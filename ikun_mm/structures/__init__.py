from .sot_data_sample import SOTDataSample  # noqa: F401
from .sot_crop import (box_from_crop, box_to_crop, clip_box, crop_image, crop_region,  # noqa: F401
                       crop_tensor, jitter_box)
