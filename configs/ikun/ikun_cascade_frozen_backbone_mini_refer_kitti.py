# Ablation of ikun_cascade_mini_refer_kitti.py closer to the paper's setting, where the KUM
# selects from generic (pretrained CLIP) features fine-tuned at lr 1e-5: the visual backbone is
# kept at its random initialisation (lr_mult=0; its BatchNorm statistics still update), only
# fusion, KUM, head and text head learn. 100 epochs, about 4 minutes on one core. The no-text
# baseline of the same setting:
#   python tools/train.py configs/ikun/ikun_cascade_frozen_backbone_mini_refer_kitti.py \
#       --cfg-options model.kum.type=NoTextKUM --work-dir work_dirs/ikun_baseline_frozen_backbone
# Results (two seeds, test videos): benchmarks/README.md, "Frozen backbone".
_base_ = ['./ikun_cascade_mini_refer_kitti.py']

max_epochs = 100
train_cfg = dict(max_epochs=max_epochs, val_interval=50)
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={'visual_encoder.backbone': dict(lr_mult=0.0, decay_mult=0.0)}))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0.0, begin=0, end=max_epochs,
         by_epoch=True, convert_to_iter_based=True)
]
