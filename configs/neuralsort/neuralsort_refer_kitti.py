# NeuralSORT on real Refer-KITTI (KITTI tracking images 1242x375) with cached detections in
# MOTChallenge format under data/refer-kitti/KITTI/detections/image_02/<video>.txt.
# Cars and pedestrians are tracked per class, as in the paper; gaps are filled offline.
_base_ = ['./neuralsort_mini_refer_kitti.py']

data_root = 'data/refer-kitti/'
model = dict(
    detector=dict(det_dir=data_root + 'KITTI/detections/image_02'),
    tracker=dict(per_class=True),
    interpolation=dict(max_gap=20))
