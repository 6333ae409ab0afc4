# Train the Neural Kalman Filter on GT tracks of the generated mini Refer-KITTI with simulated
# detector noise and with the dataset's detection files matched to GT (about 10 epochs, as in
# the paper):
#   python tools/data/generate_refer_kitti.py --out data/mini_refer_kitti --seed 0
#   OMP_NUM_THREADS=1 python tools/train.py configs/nkf/nkf_mini_refer_kitti.py
# (the nets are tiny: extra threads only add overhead; about a minute on one CPU core)
# -> work_dirs/nkf_mini_refer_kitti/epoch_10.pth, used by NeuralSORT through
#   --cfg-options model.tracker.motion.checkpoint=work_dirs/nkf_mini_refer_kitti/epoch_10.pth
_base_ = ['../_base_/default_runtime.py']

data_root = 'data/mini_refer_kitti/'

model = dict(
    type='NKFRegressor',
    motion=dict(type='NeuralKalmanFilter', hidden_dims=(32, 32), max_log_scale=4.0),
    predicted_weight=1.0,
    filtered_weight=1.0,
    nll_weight=0.01,
    data_preprocessor=dict(type='BaseDataPreprocessor'))

train_dataloader = dict(
    batch_size=128,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='TrackSequenceDataset',
        data_root=data_root,
        split='train',
        sources=('simulated', 'detections'),
        seq_len=16,
        stride=4,
        min_len=4,
        center_noise=0.04,
        size_noise=0.05,
        miss_prob=0.1))

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=10, val_interval=100)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=3e-3),
                     clip_grad=dict(max_norm=1.0))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=10, by_epoch=True, eta_min=3e-4)]

default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=1),
    logger=dict(type='LoggerHook', interval=8),
    visualization=dict(type='DetVisualizationHook', draw=False))
randomness = dict(seed=0)
