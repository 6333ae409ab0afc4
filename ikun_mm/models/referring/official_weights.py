"""Parameter names of the official iKUN checkpoints (dyhBUPT/iKUN) -> :class:`~.ikun.IKUN`.

The released files (``iKUN.pth``, ``iKUN_cascade_attention.pth``, ``iKUN_cross_correlation.pth``,
``iKUN_test-first_modulation.pth``) hold ``{'model': state_dict, 'optimizer': ..., 'epoch': ...}``
where the state dict belongs to ``nn.DataParallel(Model)`` (keys prefixed ``module.``). The
official ``Model`` holds a whole CLIP RN50 (``clip.*``) and its own layers:

=================================  ==========================================================
official                            ikun_mm
=================================  ==========================================================
``clip.visual.*``                   ``visual_encoder.backbone.tower.*`` (open_clip's
                                    ModifiedResNet uses the same names)
``clip.token_embedding``,           ``text_encoder.tower.*`` (open_clip's text tower uses the
``clip.positional_embedding``,      same names)
``clip.transformer.*``,
``clip.ln_final.*``,
``clip.text_projection``
``pos_emb_local``/``pos_emb_global``  ``visual_encoder.local_pos``/``global_pos``
``fusion_local_global.*``           ``fusion.attn.*``
``img_fc.*``                        ``visual_proj.*``
``text_fc.0/2.*``                   ``text_head.0/2.*``
``fusion_fc.*``                     ``kum.text_fc.*`` (cascade attention)
``fusion_visual_textual.*``         ``kum.attn.*`` (cascade attention)
``fusion_conv1.*``                  ``kum.kernel.*`` (cross correlation, text-first)
``fusion_conv2.*``                  ``kum.out.*`` (cross correlation)
=================================  ==========================================================

Official parameters that its forward never uses are dropped by name and listed in the result:
``clip.visual.attnpool.*`` (the image tower runs without attention pooling),
``clip.logit_scale``, ``fusion_ffn.*`` (built but unused by cascade attention) and
``fusion_conv2.*`` of text-first modulation (built but unused). Any other key that has no place
in the chosen variant is an error.
"""
from typing import Dict, List, Tuple

import torch

#: KUM variants of the official code (``--kum_mode``) by the names used here.
OFFICIAL_KUMS = ('none', 'cascade', 'cross_correlation', 'text_first')
#: the ``kum.type`` of :class:`~.ikun.IKUN` for each variant.
KUM_TYPES = dict(none='NoTextKUM', cascade='CascadeAttentionKUM',
                 cross_correlation='CrossCorrelationKUM', text_first='TextFirstKUM')

_COMMON = (
    ('clip.visual.', 'visual_encoder.backbone.tower.'),
    ('clip.token_embedding.', 'text_encoder.tower.token_embedding.'),
    ('clip.positional_embedding', 'text_encoder.tower.positional_embedding'),
    ('clip.transformer.', 'text_encoder.tower.transformer.'),
    ('clip.ln_final.', 'text_encoder.tower.ln_final.'),
    ('clip.text_projection', 'text_encoder.tower.text_projection'),
    ('pos_emb_local', 'visual_encoder.local_pos'),
    ('pos_emb_global', 'visual_encoder.global_pos'),
    ('fusion_local_global.', 'fusion.attn.'),
    ('img_fc.', 'visual_proj.'),
    ('text_fc.', 'text_head.'),
)
_KUM = dict(
    none=(),
    cascade=(('fusion_fc.', 'kum.text_fc.'), ('fusion_visual_textual.', 'kum.attn.')),
    cross_correlation=(('fusion_conv1.', 'kum.kernel.'), ('fusion_conv2.', 'kum.out.')),
    text_first=(('fusion_conv1.', 'kum.kernel.'), ),
)
_UNUSED_COMMON = ('clip.visual.attnpool.', 'clip.logit_scale')
_UNUSED = dict(none=(), cascade=('fusion_ffn.', ), cross_correlation=(),
               text_first=('fusion_conv2.', ))


def official_state_dict(obj) -> Dict[str, torch.Tensor]:
    """The model state dict inside an official checkpoint object (``{'model': ...}`` or a bare
    state dict), without the ``module.`` prefix of ``nn.DataParallel``."""
    if isinstance(obj, dict) and isinstance(obj.get('model'), dict):
        obj = obj['model']
    elif isinstance(obj, dict) and isinstance(obj.get('state_dict'), dict):
        obj = obj['state_dict']
    if not isinstance(obj, dict) or not obj or not all(
            isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError('expected an official iKUN checkpoint: a dict with a "model" state '
                         'dict of tensors')
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in obj.items()}


def convert_official_state_dict(state: Dict[str, torch.Tensor],
                                kum: str) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Rename an official iKUN state dict (``module.`` prefix removed) for :class:`~.ikun.IKUN`.

    Args:
        state: official parameter name -> tensor.
        kum: the variant the checkpoint was trained with, one of :data:`OFFICIAL_KUMS`.

    Returns:
        (converted state dict, sorted official keys dropped because the official forward never
        uses them).

    Raises:
        ValueError: unknown variant, or keys that belong to no part of this variant (e.g. a
            cascade-attention checkpoint converted as ``cross_correlation``).
    """
    if kum not in OFFICIAL_KUMS:
        raise ValueError(f'kum must be one of {OFFICIAL_KUMS}, got {kum!r}')
    rules = _COMMON + _KUM[kum]
    unused = _UNUSED_COMMON + _UNUSED[kum]
    out, dropped, unknown = {}, [], []
    for key, value in state.items():
        if key.startswith(unused):
            dropped.append(key)
            continue
        for src, dst in rules:
            if key == src or (src.endswith('.') and key.startswith(src)):
                out[dst + key[len(src):]] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f'{len(unknown)} official keys have no place in an iKUN with '
                         f'kum={kum!r} (wrong --kum?): {sorted(unknown)[:8]}')
    return out, sorted(dropped)
