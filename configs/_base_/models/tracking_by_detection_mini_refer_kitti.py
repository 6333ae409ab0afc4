# Tracking by detection on the cached (simulated) detections of the generated mini Refer-KITTI
# (python tools/data/generate_refer_kitti.py --out data/mini_refer_kitti --seed 0). A tracking
# config adds its tracker from configs/_base_/trackers/ and nothing else:
#   _base_ = [..., '../_base_/models/tracking_by_detection_mini_refer_kitti.py',
#             '../_base_/trackers/<name>.py']
#   model = dict(tracker={{_base_.tracker}})
data_root = 'data/mini_refer_kitti/'

model = dict(
    type='TrackingByDetection',
    detector=dict(type='DetectionsFromFile', det_dir=data_root + 'KITTI/detections/image_02'))
