# iKUN without text guidance in the visual path (NoTextKUM, the paper's ablation baseline);
# otherwise identical to ikun_cascade_refer_kitti.py.
_base_ = ['./ikun_cascade_refer_kitti.py']

model = dict(kum=dict(type='NoTextKUM'))
