# The small CPU iKUN of the generated mini Refer-KITTI configs: the paper's iKUN
# (configs/_base_/models/ikun.py) with a TinyConvBackbone (stride 32) on local 64 / global 128
# inputs (2x2 / 4x4 tokens) and a frozen 4-layer 128-wide CLIP text tower (random weights); the
# loss sees 10 * cosine (CosineFocalLoss's docstring says why).
_base_ = ['./ikun.py']

model = dict(
    visual_encoder=dict(
        backbone=dict(_delete_=True, type='TinyConvBackbone', channels=(16, 32, 64, 128, 128)),
        local_size=64, global_size=128),  # the pipelines' crops follow (CropSizeFromModelHook)
    text_encoder=dict(text_cfg=dict(width=128, heads=4, layers=4, context_length=16),
                      embed_dim=128),
    loss=dict(logit_scale=10.0))
