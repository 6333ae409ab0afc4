from .bbox import (TRACKEVAL_EPS, bbox_centers, bbox_inside_fraction, bbox_iou, cxcyah_to_xyxy,
                   normalized_to_pixels, pixels_to_normalized, trackeval_box_iou_pairs,
                   xywh_to_xyxy, xyxy_to_cxcyah, xyxy_to_xywh)
from .expression_synonyms import (REFER_KITTI_SYNONYMS, SYNONYM_TABLES, canonical_sentence,
                                  resolve_synonyms)
from .rows import (DET_ROW, FRAME_DET_ROW, GT_ROW, MOT_FILE_ROW, MOT_GT_ROW, MOT_PRED_ROW,
                   REFERRED_ROW, ROW_LAYOUTS, TRACK_BOX_ROW, TRACK_ROW, RowLayout)
from .sot_crop import (box_from_crop, box_to_crop, box_to_crop_official, clip_box,
                       clip_box_margin, crop_image, crop_region, crop_tensor, jitter_box,
                       sample_target_image, sample_target_region, sample_target_tensor)
from .sot_data_sample import SOTDataSample

__all__ = [
    'DET_ROW', 'FRAME_DET_ROW', 'GT_ROW', 'MOT_FILE_ROW', 'MOT_GT_ROW', 'MOT_PRED_ROW',
    'REFERRED_ROW', 'REFER_KITTI_SYNONYMS', 'ROW_LAYOUTS', 'RowLayout', 'SOTDataSample',
    'SYNONYM_TABLES', 'TRACKEVAL_EPS', 'TRACK_BOX_ROW', 'TRACK_ROW', 'bbox_centers',
    'bbox_inside_fraction', 'bbox_iou', 'box_from_crop', 'box_to_crop', 'box_to_crop_official',
    'canonical_sentence', 'clip_box', 'clip_box_margin', 'crop_image', 'crop_region', 'crop_tensor',
    'cxcyah_to_xyxy', 'jitter_box', 'normalized_to_pixels', 'pixels_to_normalized',
    'resolve_synonyms', 'sample_target_image', 'sample_target_region', 'sample_target_tensor',
    'trackeval_box_iou_pairs', 'xywh_to_xyxy', 'xyxy_to_cxcyah', 'xyxy_to_xywh'
]
