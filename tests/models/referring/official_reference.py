"""The official iKUN forward (dyhBUPT/iKUN ``model.py``, evaluation mode) restated for tests.

Written from the official code's description, independently of ``ikun_mm``'s modules: it reads
an *official-named* state dict (``clip.*``, ``pos_emb_local``, ``fusion_local_global.*``,
``fusion_visual_textual.*``, ``fusion_conv1.*``, ...) and uses the official data layout
(sequence-first tokens ``(HW, B·T, C)``, channel-first ``(B·T, C, HW)`` for the convolutions),
torch's functional multi-head attention, and the depth-wise cross correlation as a grouped
``conv1d``. The CLIP towers are open_clip's modules, which use the same parameter names as
OpenAI's CLIP. Only the small-size shapes differ from the released model.
"""
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F

# ------------------------------------------------------------------ official-named weights


def clip_towers(width: int = 8, text_width: int = 32, embed_dim: int = 32,
                context_length: int = 16):
    """Small open_clip CLIP towers (ModifiedResNet layers (1,1,1,1); 1-layer text tower)."""
    from open_clip.model import _build_text_tower
    from open_clip.modified_resnet import ModifiedResNet
    visual = ModifiedResNet(layers=[1, 1, 1, 1], output_dim=embed_dim, heads=width * 32 // 64,
                            image_size=64, width=width)
    text = _build_text_tower(embed_dim, dict(width=text_width, heads=2, layers=1,
                                             context_length=context_length),
                             quick_gelu=True)
    return visual, text


def random_official_state(kum: str, width: int = 8, text_width: int = 32, embed_dim: int = 32,
                          feature_dim: int = 32, n_local: int = 4, n_global: int = 16,
                          context_length: int = 16, seed: int = 0) -> Dict[str, torch.Tensor]:
    """A random state dict with the official parameter names and shapes (``module.`` prefix
    removed), at small sizes. ``kum`` in ('none', 'cascade', 'cross_correlation',
    'text_first'). Includes the parameters the official forward never uses (attention pooling,
    logit scale, ``fusion_ffn``, text-first's ``fusion_conv2``), as the released files do."""
    g = torch.Generator().manual_seed(seed)
    visual, text = clip_towers(width, text_width, embed_dim, context_length)
    c, d = width * 32, embed_dim
    shapes: Dict[str, Tuple[int, ...]] = {}
    shapes.update({f'clip.visual.{k}': tuple(v.shape) for k, v in visual.state_dict().items()})
    shapes.update({f'clip.{k}': tuple(v.shape) for k, v in text.state_dict().items()
                   if k != 'attn_mask'})
    shapes['clip.logit_scale'] = ()

    def mha(prefix, dim):
        shapes.update({f'{prefix}.in_proj_weight': (3 * dim, dim),
                       f'{prefix}.in_proj_bias': (3 * dim, ),
                       f'{prefix}.out_proj.weight': (dim, dim),
                       f'{prefix}.out_proj.bias': (dim, )})

    def conv_bn(prefix, cin, cout):
        shapes.update({f'{prefix}.0.weight': (cout, cin, 1), f'{prefix}.1.weight': (cout, ),
                       f'{prefix}.1.bias': (cout, ), f'{prefix}.1.running_mean': (cout, ),
                       f'{prefix}.1.running_var': (cout, ),
                       f'{prefix}.1.num_batches_tracked': ()})

    shapes.update({'pos_emb_local': (n_local, ), 'pos_emb_global': (n_global, ),
                   'img_fc.weight': (feature_dim, c), 'img_fc.bias': (feature_dim, ),
                   'text_fc.0.weight': (d, d), 'text_fc.0.bias': (d, ),
                   'text_fc.2.weight': (feature_dim, d), 'text_fc.2.bias': (feature_dim, )})
    mha('fusion_local_global', c)
    if kum == 'cascade':
        mha('fusion_visual_textual', c)
        shapes.update({'fusion_fc.weight': (c, d), 'fusion_fc.bias': (c, ),
                       'fusion_ffn.mlp.weight': (c, c), 'fusion_ffn.mlp.bias': (c, ),
                       'fusion_ffn.norm.weight': (c, ), 'fusion_ffn.norm.bias': (c, )})
    elif kum in ('cross_correlation', 'text_first'):
        conv_bn('fusion_conv1', feature_dim, c)
        conv_bn('fusion_conv2', c, c)
    state = {}
    for key, shape in shapes.items():
        if key.endswith('num_batches_tracked'):
            state[key] = torch.tensor(7)
        elif key.endswith('running_var'):
            state[key] = torch.rand(shape, generator=g) + 0.5
        elif key.endswith('logit_scale'):
            state[key] = torch.tensor(4.6052)
        else:
            state[key] = torch.randn(shape, generator=g) * (0.2 if len(shape) > 1 else 0.5)
    return state


def load_towers(state: Dict[str, torch.Tensor], **sizes):
    """open_clip towers holding the ``clip.*`` weights of an official-named state dict."""
    visual, text = clip_towers(**sizes)
    visual.load_state_dict({k[len('clip.visual.'):]: v for k, v in state.items()
                            if k.startswith('clip.visual.')})
    text_state = {k[len('clip.'):]: v for k, v in state.items()
                  if k.startswith('clip.') and not k.startswith(('clip.visual.',
                                                                 'clip.logit_scale'))}
    text.load_state_dict(text_state, strict=False)  # attn_mask is a non-persistent buffer
    return visual.eval(), text.eval()


# ------------------------------------------------------------------ the official forward


def _mha(state, prefix, query, key, value, num_heads):
    """``nn.MultiheadAttention`` (sequence-first) of the official model, functional form."""
    dim = query.shape[-1]
    out, _ = F.multi_head_attention_forward(
        query, key, value, dim, num_heads, state[f'{prefix}.in_proj_weight'],
        state[f'{prefix}.in_proj_bias'], None, None, False, 0.0,
        state[f'{prefix}.out_proj.weight'], state[f'{prefix}.out_proj.bias'], training=False,
        need_weights=False)
    return out


def _conv_bn(state, prefix, x):
    """Conv1d(k=1, no bias) + BatchNorm1d in evaluation mode; x (N, C_in, L)."""
    x = F.conv1d(x, state[f'{prefix}.0.weight'])
    return F.batch_norm(x, state[f'{prefix}.1.running_mean'], state[f'{prefix}.1.running_var'],
                        state[f'{prefix}.1.weight'], state[f'{prefix}.1.bias'], False, 0.1,
                        1e-5)


def _visual_c5(visual, x):
    """ModifiedResNet without attention pooling (official ``visual(x, with_pooling=False)``)."""
    x = visual.stem(x)
    return visual.layer4(visual.layer3(visual.layer2(visual.layer1(x))))


def official_eval_logits(state: Dict[str, torch.Tensor], towers, local: torch.Tensor,
                         glob: torch.Tensor, token_ids: torch.Tensor, kum: str,
                         num_heads: int = 4, truncation: int = 10) -> torch.Tensor:
    """Cosine logits of the official ``Model.forward`` in eval mode.

    Args:
        state: official-named state dict; towers: :func:`load_towers` of it.
        local: Tensor (B, T, 3, h, w); glob: Tensor (B, T, 3, H, W), normalised.
        token_ids: LongTensor (B, context) of CLIP BPE ids (EOT = the largest id).
        kum: 'none', 'cascade', 'cross_correlation' or 'text_first'.
    """
    visual, text = towers
    b, t = local.shape[:2]
    # textual_encoding: encode_text_2 + text_fc, normalised in eval mode
    x = text.token_embedding(token_ids) + text.positional_embedding
    x = text.ln_final(text.transformer(x, attn_mask=text.attn_mask))
    hidden = x[:, :truncation] @ text.text_projection
    sent = x[torch.arange(b), token_ids.argmax(dim=-1)] @ text.text_projection
    sent = F.linear(F.relu(F.linear(sent, state['text_fc.0.weight'], state['text_fc.0.bias'])),
                    state['text_fc.2.weight'], state['text_fc.2.bias'])
    sent = F.normalize(sent, p=2, dim=-1)
    # visual_local_global
    lf = _visual_c5(visual, local.flatten(0, 1)).flatten(2) + state['pos_emb_local']
    gf = _visual_c5(visual, glob.flatten(0, 1)).flatten(2) + state['pos_emb_global']
    lf, gf = lf.permute(2, 0, 1), gf.permute(2, 0, 1)  # (HW, BT, C)
    per_frame = sent.repeat_interleave(t, dim=0)[:, :, None]  # (BT, D, 1)
    if kum == 'text_first':
        kernel = _conv_bn(state, 'fusion_conv1', per_frame)  # (BT, C, 1)
        lf2 = (lf.permute(1, 2, 0) * kernel.repeat(1, 1, lf.shape[0])).permute(2, 0, 1)
        gf2 = (gf.permute(1, 2, 0) * kernel.repeat(1, 1, gf.shape[0])).permute(2, 0, 1)
        fused = _mha(state, 'fusion_local_global', lf2, gf2, gf, num_heads)
    else:
        fused = _mha(state, 'fusion_local_global', lf, gf, gf, num_heads)
    fused = fused + lf
    if kum == 'cascade':
        tokens = hidden.repeat_interleave(t, dim=0)  # (BT, L, D)
        tokens = F.linear(tokens, state['fusion_fc.weight'], state['fusion_fc.bias'])
        tokens = tokens.permute(1, 0, 2)  # (L, BT, C)
        att = _mha(state, 'fusion_visual_textual', fused, tokens, tokens, num_heads)
        vis = (fused * att).permute(1, 2, 0)  # (BT, C, HW)
    elif kum == 'cross_correlation':
        kernel = _conv_bn(state, 'fusion_conv1', per_frame)  # (BT, C, 1)
        vis = fused.permute(1, 2, 0)  # (BT, C, HW)
        n, c, hw = vis.shape
        corr = F.conv1d(vis.reshape(1, n * c, hw), kernel.reshape(n * c, 1, 1), groups=n * c)
        vis = _conv_bn(state, 'fusion_conv2', vis + corr.view(n, c, hw))
    else:
        vis = fused.permute(1, 2, 0)
    pooled = vis.mean(dim=-1).view(b, t, -1).mean(dim=1)
    pooled = F.normalize(F.linear(pooled, state['img_fc.weight'], state['img_fc.bias']), dim=-1)
    return F.cosine_similarity(pooled, sent)


def naive_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                    in_w: torch.Tensor, in_b: torch.Tensor, out_w: torch.Tensor,
                    out_b: torch.Tensor, num_heads: int) -> torch.Tensor:
    """Multi-head attention written out head by head for ONE sample: query (Q, C), key/value
    (L, C) -> (Q, C). ``in_w`` (3C, C) stacks the q, k, v projections."""
    c = query.shape[-1]
    d = c // num_heads
    q = query @ in_w[:c].T + in_b[:c]
    k = key @ in_w[c:2 * c].T + in_b[c:2 * c]
    v = value @ in_w[2 * c:].T + in_b[2 * c:]
    heads: List[torch.Tensor] = []
    for h in range(num_heads):
        sl = slice(h * d, (h + 1) * d)
        weights = torch.softmax(q[:, sl] @ k[:, sl].T / d**0.5, dim=-1)
        heads.append(weights @ v[:, sl])
    return torch.cat(heads, dim=-1) @ out_w.T + out_b
