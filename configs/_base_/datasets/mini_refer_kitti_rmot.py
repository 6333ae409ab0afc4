# The Refer-KITTI referring-MOT test protocol (configs/_base_/datasets/refer_kitti_rmot.py) on
# the generated mini Refer-KITTI, which has no unevaluated expressions:
#   python tools/data/generate_refer_kitti.py --out data/mini_refer_kitti --seed 0
_base_ = ['./refer_kitti_rmot.py']

data_root = 'data/mini_refer_kitti'
det_dir = data_root + '/KITTI/detections/image_02'
exclude_sentences = []

test_dataloader = dict(dataset=dict(data_root=data_root, exclude_sentences=exclude_sentences))
calibration = dict(data_root=data_root)
