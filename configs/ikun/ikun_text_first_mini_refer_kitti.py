# The text-first modulation KUM variant of ikun_cascade_mini_refer_kitti.py.
_base_ = ['./ikun_cascade_mini_refer_kitti.py']

model = dict(kum=dict(type='TextFirstKUM'))
