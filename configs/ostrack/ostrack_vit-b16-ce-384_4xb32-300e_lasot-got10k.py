# OSTrack-384: template 192 (factor 2), search 384 (factor 5); otherwise as OSTrack-256.
# Paper: LaSOT AUC 71.1, GOT-10k AO 73.7.
_base_ = ['./ostrack_vit-b16-ce-256_4xb32-300e_lasot-got10k.py']

template_size = 192
search_size = 384
search_factor = 5.0

model = dict(
    backbone=dict(template_size=template_size, search_size=search_size),
    search_factor=search_factor)
# Data as the official experiments/ostrack/vitb_384_mae_ce_32x4_ep300.yaml and
# lib/train/base_functions.py: LASOT, GOT10K_vottrain, COCO17, TRACKINGNET drawn with ratios
# 1:1:1:1, SAMPLE_PER_EPOCH 60000, causal sampling with MAX_SAMPLE_INTERVAL 200; template 192 at
# factor 2 without jitter, search 384 at factor 5 with CENTER_JITTER 4.5 and SCALE_JITTER 0.5;
# joint grayscale p=0.05 and horizontal flip p=0.5, then per crop brightness jitter 0.2 and
# horizontal flip p=0.5. GOT10K_vottrain reads pytracking's
# ltr/data_specs/got10k_vot_train_split.txt, to be put in data/got10k/.
_crop = dict(type='SOTTemplateSearchCrop', template_factor=2.0, template_size=template_size,
             search_factor=search_factor, search_size=search_size, template_jitter=(0., 0.),
             search_jitter=(4.5, 0.5), crop_mode='ostrack')
train_pipeline = [
    dict(type='LoadSOTImages'),
    dict(type='SOTGrayscale', prob=0.05),
    dict(type='SOTJointFlip', prob=0.5),
    _crop,
    dict(type='SOTBrightnessJitter', jitter=0.2),
    dict(type='SOTCropFlip', prob=0.5),
    dict(type='PackSOTInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
