from .refer_kitti import ReferKittiDataset
from .refer_kitti_io import (Expression, ReferKittiFormatError, VideoAnnotation,
                             load_detections, load_expressions, load_video_annotation,
                             resolve_videos)

__all__ = [
    'ReferKittiDataset', 'Expression', 'ReferKittiFormatError', 'VideoAnnotation',
    'load_detections', 'load_expressions', 'load_video_annotation', 'resolve_videos'
]
from .sot_dataset import GOT10kDataset, LaSOTDataset, SOTDataset, SOTFormatError  # noqa: F401
from .sot_frame_sampler import SOTFrameSampler  # noqa: F401
