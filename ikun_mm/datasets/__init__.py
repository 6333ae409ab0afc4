from .expression_synonyms import (REFER_KITTI_SYNONYMS, SYNONYM_TABLES, canonical_sentence,
                                  merge_synonymous_expressions, resolve_synonyms)
from .refer_kitti import ReferKittiDataset, positive_box_counts
from .refer_kitti_io import (Expression, ReferKittiFormatError, VideoAnnotation,
                             load_detections, load_expressions, load_video_annotation,
                             resolve_videos)

__all__ = [
    'ReferKittiDataset', 'positive_box_counts', 'REFER_KITTI_SYNONYMS', 'SYNONYM_TABLES',
    'canonical_sentence', 'merge_synonymous_expressions', 'resolve_synonyms', 'Expression',
    'ReferKittiFormatError', 'VideoAnnotation', 'load_detections', 'load_expressions',
    'load_video_annotation', 'resolve_videos'
]
from .track_sequences import TrackSequenceDataset  # noqa: F401
from .refer_kitti_windows import ReferKittiWindowDataset  # noqa: F401,E402
from .sot_dataset import (COCOSeqDataset, GOT10kDataset, LaSOTDataset,  # noqa: F401
                          SOTDataset, SOTFormatError, SOTMixedDataset, TrackingNetDataset)
from .sot_frame_sampler import SOTFrameSampler  # noqa: F401
