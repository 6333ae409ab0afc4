# Small CPU variant of ikun_cascade_refer_kitti.py for the generated mini Refer-KITTI
# (`python tools/data/generate_refer_kitti.py --out data/mini_refer_kitti --seed 0`): the small
# iKUN of configs/_base_/models/ikun_tinyconv.py, 200 epochs of AdamW 1e-3. Two deliberate
# differences from the paper's recipe (docstrings of ReferKittiWindowDataset and CosineFocalLoss):
# every training window is paired with all the video's expressions (num_expressions=None), and
# the loss sees 10·cosine. About 8 minutes on 2 idle CPU cores.
_base_ = [
    '../_base_/models/ikun_tinyconv.py', '../_base_/datasets/refer_kitti_ikun.py',
    '../_base_/schedules/ikun_100e.py', '../_base_/default_runtime.py'
]

data_root = 'data/mini_refer_kitti'

train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, num_expressions=None))
# The mini set has a validation split (videos 0000, 0017, 0019; real Refer-KITTI has none and
# the paper validates on its test videos): training validates there, and
# `tools/test.py CONFIG CKPT` measures matching on the held-out test videos.
val_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, split='val'))
test_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, split='test'))

max_epochs = 200
train_cfg = dict(max_epochs=max_epochs, val_interval=50)
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0.0, begin=0, end=max_epochs,
         by_epoch=True, convert_to_iter_based=True)
]
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=50, max_keep_ckpts=2))
randomness = dict(seed=0)

# DDP (`tools/dist_train.sh CFG N`): device_ids=None lets DDP wrap the model on CPU (gloo) as
# well as on one GPU per process; every trainable parameter (text
# embeddings included) is used in every step, so no unused-parameter search is needed.
model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None,
                         broadcast_buffers=False, find_unused_parameters=False)
