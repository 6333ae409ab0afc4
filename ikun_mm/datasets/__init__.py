from ikun_mm.structures.expression_synonyms import (REFER_KITTI_SYNONYMS, SYNONYM_TABLES,
                                                    canonical_sentence, resolve_synonyms)
from .mot_challenge_one_copy import MOTChallengeOneCopyDataset
from .refer_kitti import ReferKittiDataset, positive_box_counts
from .refer_kitti_io import (Expression, ReferKittiFormatError, VideoAnnotation, load_detections,
                             load_expressions, load_video_annotation,
                             merge_synonymous_expressions, resolve_videos)
from .refer_kitti_windows import ReferKittiWindowDataset
from .sot_dataset import (COCOSeqDataset, GOT10kDataset, LaSOTDataset, SOTDataset, SOTFormatError,
                          SOTMixedDataset, TrackingNetDataset)
from .sot_frame_sampler import SOTFrameSampler
from .track_sequences import TrackSequenceDataset

__all__ = [
    'COCOSeqDataset', 'Expression', 'GOT10kDataset', 'LaSOTDataset', 'MOTChallengeOneCopyDataset',
    'REFER_KITTI_SYNONYMS', 'ReferKittiDataset', 'ReferKittiFormatError', 'ReferKittiWindowDataset',
    'SOTDataset', 'SOTFormatError', 'SOTFrameSampler', 'SOTMixedDataset', 'SYNONYM_TABLES',
    'TrackSequenceDataset', 'TrackingNetDataset', 'VideoAnnotation', 'canonical_sentence',
    'load_detections', 'load_expressions', 'load_video_annotation', 'merge_synonymous_expressions',
    'positive_box_counts', 'resolve_synonyms', 'resolve_videos'
]
