# iKUN (Du et al., CVPR 2024; official code dyhBUPT/iKUN): CLIP RN50 image tower without
# attention pooling (C5, 2048-d) on local 224 / global 672 inputs, CLIP RN50 text tower (1024-d,
# first 10 tokens; frozen except its token and positional embeddings, as the official code),
# cascade-attention KUM, focal BCE on the cosine logit. No weights can be downloaded: give local
# CLIP files with `--cfg-options model.visual_encoder.backbone.pretrained=/path/RN50.pt
#  model.text_encoder.pretrained=/path/RN50.pt`; without them both start random (one warning).
# An official iKUN checkpoint converts with tools/model_converters/ikun_official_to_mm.py.
model = dict(
    type='IKUN',
    data_preprocessor=dict(type='IKUNDataPreprocessor'),
    visual_encoder=dict(
        type='IKUNVisualEncoder',
        backbone=dict(type='CLIPResNetBackbone', model_name='RN50', pretrained=None),
        # the crop geometry of model, pipelines and referring inference (one source)
        local_size=224,
        global_size=672),
    text_encoder=dict(type='CLIPTextEncoder', model_name='RN50', pretrained=None,
                      num_tokens=10),
    kum=dict(type='CascadeAttentionKUM'),
    num_heads=4,
    loss=dict(type='CosineFocalLoss', gamma=2.0, reduction='sum'))
