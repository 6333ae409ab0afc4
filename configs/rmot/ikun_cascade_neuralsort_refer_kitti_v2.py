# Refer-KITTI-V2: same layout and protocol as Refer-KITTI; test videos 0005, 0011, 0013, 0019.
# Write its split once (prepare_refer_kitti.py also checks the tree and writes GT templates):
#   python tools/data/prepare_refer_kitti.py data/refer-kitti-v2 --test 0005 0011 0013 0019 \
#       --train 0000 0001 0002 0003 0004 0006 0007 0008 0009 0010 0012 0014 0015 0016 0017 \
#       0018 0020
_base_ = ['./ikun_cascade_neuralsort_refer_kitti.py']

data_root = 'data/refer-kitti-v2'
model = dict(
    detector=dict(det_dir=data_root + '/KITTI/detections/image_02'),
    referrer=dict(calibration=dict(data_root=data_root)))
test_dataloader = dict(dataset=dict(data_root=data_root, exclude_sentences=[]))
