# Refer-Dance (DanceTrack videos in the Refer-KITTI layout): one class (dancers), so tracking is
# not per class. Write the split once with
#   python tools/data/prepare_refer_kitti.py data/refer-dance --train ... --test ...
_base_ = ['./ikun_cascade_neuralsort_refer_kitti.py']

data_root = 'data/refer-dance'
model = dict(
    detector=dict(det_dir=data_root + '/KITTI/detections/image_02'),
    referrer=dict(calibration=dict(data_root=data_root, synonyms=None)),
    tracker=dict(per_class=False))
# Refer-KITTI's synonym table (cars/vehicles, people/persons -> pedestrian...) is not Refer-Dance's
# vocabulary: off here (train the referrer with the same setting).
test_dataloader = dict(dataset=dict(data_root=data_root, exclude_sentences=[], synonyms=None))
