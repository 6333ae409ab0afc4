# iKUN with the text-first modulation KUM; otherwise identical to ikun_cascade_refer_kitti.py.
_base_ = ['./ikun_cascade_refer_kitti.py']

model = dict(kum=dict(type='TextFirstKUM'))
