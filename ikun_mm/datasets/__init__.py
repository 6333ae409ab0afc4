from .refer_kitti import ReferKittiDataset
from .refer_kitti_io import (Expression, ReferKittiFormatError, VideoAnnotation,
                             load_detections, load_expressions, load_video_annotation,
                             resolve_videos)

__all__ = [
    'ReferKittiDataset', 'Expression', 'ReferKittiFormatError', 'VideoAnnotation',
    'load_detections', 'load_expressions', 'load_video_annotation', 'resolve_videos'
]
from .track_sequences import TrackSequenceDataset  # noqa: F401
from .refer_kitti_windows import ReferKittiWindowDataset  # noqa: F401,E402
from .sot_dataset import GOT10kDataset, LaSOTDataset, SOTDataset, SOTFormatError  # noqa: F401
from .sot_frame_sampler import SOTFrameSampler  # noqa: F401
