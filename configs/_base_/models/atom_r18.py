# ATOM (Danelljan et al., CVPR 2019) with the paper's network: ResNet-18 layer2/layer3 (frozen,
# ImageNet weights from a local file), IoU predictor with reference-branch modulation, online
# classifier (1x1 projection to 64 channels + 4x4 filter, Gauss-Newton + CG), 288x288 search
# regions at 5x the target's sqrt(w h).
model = dict(
    type='ATOM',
    data_preprocessor=dict(type='SOTDataPreprocessor'),
    backbone=dict(
        type='mmdet.ResNet', depth=18, num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1),
        out_indices=(1, 2), frozen_stages=3, norm_eval=True, style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet18-f37072fd.pth')),
    iou_net=dict(type='ATOMIoUNet', in_channels=(128, 256), ref_channels=(128, 256),
                 test_channels=256, pred_channels=(256, 256), inter_channels=(256, 256)),
    loss_iou=dict(type='mmdet.MSELoss', loss_weight=1.0),
    classifier=dict(compressed_dim=64, kernel_size=(4, 4), filter_reg=0.1, projection_reg=1e-4,
                    activation_alpha=0.05, init_gn_iter=6, init_cg_iter=60, update_cg_iter=5,
                    learning_rate=0.01, hard_negative_learning_rate=0.02, init_min_weight=0.25,
                    memory_size=250),
    train_cfg=dict(num_proposals=16, sigma_factors=(0.01, 0.05, 0.1, 0.2, 0.3), min_iou=0.1),
    test_cfg=dict(search_factor=5.0, search_size=288, update_interval=10, num_boxes=10,
                  box_jitter=(0.1, 0.5), refine_steps=5, step_length=1.0, top_k=3,
                  max_aspect_ratio=6.0))
