# The "repeat the first box" baseline on the synthetic sequences: the floor of the OPE metric.
# It has no weights; tools/test.py needs a checkpoint file, any file holding an empty state dict:
#   python -c "import torch; torch.save({'state_dict': {}}, 'work_dirs/empty.pth')"
#   python tools/test.py configs/sot/static_box_synthetic.py work_dirs/empty.pth
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/synthetic_sot.py']

model = dict(type='StaticBoxTracker', data_preprocessor=dict(type='SOTDataPreprocessor'))
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
train_dataloader = None  # nothing to train
