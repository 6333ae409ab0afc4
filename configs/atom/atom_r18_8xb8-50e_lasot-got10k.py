# ATOM, the paper's training setting: only the IoU predictor learns (the ImageNet ResNet-18 is
# frozen), MSE on 16 jittered proposals per pair (min IoU 0.1), reference crops without jitter,
# test crops with centre jitter 4.5 and scale jitter 0.5, Adam 1e-3 x0.2 every 15 epochs, 50
# epochs of 1000 iterations with batch 64 (8 GPUs x 8), on LaSOT, GOT-10k, TrackingNet and COCO
# as pytracking (data section below).
# Offline: put torchvision's ResNet-18 ImageNet file where `model.backbone.init_cfg.checkpoint`
# points; the official pytracking ATOM weights load with
# `ikun_mm.models.sot.atom.load_official_atom_checkpoint`.
_base_ = ['../_base_/models/atom_r18.py', '../_base_/default_runtime.py']

search_size = 288
# Tracking as pytracking/parameter/atom/default.py (its names in brackets): classifier scores
# Fourier-upsampled to one value per pixel of the 288 x 288 crop (score_upsample_factor 1),
# advanced localisation (target_not_found_threshold 0.25, distractor_threshold 0.8,
# hard_negative_threshold 0.5, target_neighborhood_scale 2.2, dispalcement_scale 0.8),
# Gaussian labels with sigma = 1/4 sqrt(w h) / 16 (output_sigma_factor), filter refit every 10th
# frame (train_skipping, CG_iter 5) or at once after a hard negative (hard_negative_CG_iter 5).
model = dict(
    classifier=dict(update_cg_iter=5, hard_negative_cg_iter=5),
    test_cfg=dict(
        output_sigma_factor=0.25, score_upsample_factor=1.0, update_interval=10,
        feature_dropout=(7, 0.2), num_boxes=10, box_jitter=(0.1, 0.5), refine_steps=5,
        step_length=1.0, step_decay=1.0, top_k=3, max_aspect_ratio=6.0,
        localization=dict(target_not_found_threshold=0.25, distractor_threshold=0.8,
                          hard_negative_threshold=0.5, target_neighborhood_scale=2.2,
                          displacement_scale=0.8),
        update_scale_when_uncertain=True))

train_pipeline = [
    dict(type='LoadSOTImages'),
    dict(type='SOTGrayscale', prob=0.05),
    dict(type='SOTTemplateSearchCrop', template_factor=5.0, template_size=search_size,
         search_factor=5.0, search_size=search_size, template_jitter=(0., 0.),
         search_jitter=(4.5, 0.5), crop_mode='pytracking'),
    dict(type='SOTBrightnessJitter', jitter=0.2),
    dict(type='PackSOTInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackSOTFrame')]
# Data as pytracking's ltr/train_settings/bbreg/atom.py: LaSOT train, GOT-10k vottrain (put
# ltr/data_specs/got10k_vot_train_split.txt in data/got10k/), TrackingNet chunks 0-3 and COCO 2014
# drawn 1:1:1:1, 1000 x 64 samples per epoch, ATOMSampler ('interval') with max_gap 50; joint
# grayscale p=0.05 and per-crop brightness jitter 0.2, no flips; train (reference) crops without
# jitter, test crops with centre jitter 4.5 and scale jitter 0.5, factor 5, 288 px.
frame_sampler = dict(type='SOTFrameSampler', mode='interval', num_template_frames=1,
                     num_search_frames=1, max_frame_gap=50)
train_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='SOTMixedDataset',
        datasets=[
            dict(type='LaSOTDataset', data_root='data/lasot/', split='training_set.txt'),
            dict(type='GOT10kDataset', data_root='data/got10k/', split='train',
                 seq_ids_file='got10k_vot_train_split.txt'),
            dict(type='TrackingNetDataset', data_root='data/trackingnet/', chunks=[0, 1, 2, 3]),
            # pytracking's MSCOCOSeq: COCO 2014, every non-empty instance valid
            dict(type='COCOSeqDataset', data_root='data/coco/',
                 ann_file='annotations/instances_train2014.json',
                 img_prefix='images/train2014', min_size=0.),
        ],
        pipeline=train_pipeline,
        frame_sampler=frame_sampler,
        ratios=[1, 1, 1, 1],
        samples_per_epoch=64000))
test_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='LaSOTDataset', data_root='data/lasot/', split='testing_set.txt',
                 test_mode=True, pipeline=test_pipeline))
val_dataloader = test_dataloader
test_evaluator = dict(type='SOTMetric')
val_evaluator = test_evaluator

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [dict(type='StepLR', step_size=15, gamma=0.2, by_epoch=True)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=50, val_interval=50)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=5))
auto_scale_lr = dict(enable=False, base_batch_size=64)
