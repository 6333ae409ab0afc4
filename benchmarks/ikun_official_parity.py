"""Parity of ikun_mm's IKUN with the official iKUN ``model.py``, full size, random weights.

    pip install openai-clip==1.0.1 einops     # the official code imports `clip` and `einops`
    git clone <dyhBUPT/iKUN> /tmp/iKUN       # a checkout of the official repository
    python benchmarks/ikun_official_parity.py --official-repo /tmp/iKUN [--json]

For each KUM variant ('none' = the no-text baseline, 'cascade', 'cross_correlation',
'text_first'): the official ``Model`` is built with random weights (its CLIP RN50 from OpenAI's
``clip`` package, randomly initialised, in place of the ``RN50.pt`` file it loads), its state
dict is saved as the official training script saves it (``{'model': DataParallel state}``),
converted with ``tools/model_converters/ikun_official_to_mm.py`` into the variant's Refer-KITTI
config, and both models score the same normalised inputs (local (B, T, 3, 224, 224), global
(B, T, 3, 672, 672), B sentences) in evaluation mode. Printed per variant: the largest absolute
difference of the cosine logits and the logits' own spread.

Nothing of the official repository is copied here: it is imported from the given path. Two
things are emulated because the official repository does not ship them: the ``with_pooling``
argument of its patched ``clip`` (``visual(x, with_pooling=False)`` returns the C5 map before
the attention pooling), and the ``RN50.pt`` file (random weights instead).
"""
import argparse
import importlib.util
import json
import os.path as osp
import sys
import tempfile
import types

import torch

HERE = osp.dirname(osp.abspath(__file__))

VARIANTS = dict(none=None, cascade='cascade attention', cross_correlation='cross correlation',
                text_first='text-first modulation')
SENTENCES = ['left cars in black', 'moving pedestrian', 'car in front of ours',
             'women in the right']


def _patch_clip():
    """``ModifiedResNet.forward(x, with_pooling=True)`` as the official code calls it."""
    import clip.model as clip_model

    def forward(self, x, with_pooling=True):
        x = x.type(self.conv1.weight.dtype)
        for conv, bn, act in ((self.conv1, self.bn1, self.relu1), (self.conv2, self.bn2,
                                                                  self.relu2),
                              (self.conv3, self.bn3, self.relu3)):
            x = act(bn(conv(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.avgpool(x)))))
        return self.attnpool(x) if with_pooling else x

    clip_model.ModifiedResNet.forward = forward


def _official_model(official_repo: str, kum_mode, seed: int):
    sys.path.insert(0, official_repo)
    sys.modules.setdefault('opts', types.ModuleType('opts'))  # model.py imports nothing of it
    import model as official
    _patch_clip()

    def random_clip(model_path, input_resolution=None):
        # RN50's hyper-parameters (embed 1024, 224 px, layers (3,4,6,3), width 64, context 77,
        # vocabulary 49408, text width 512, 8 heads, 12 layers), random weights
        return official.MyCLIP(1024, 224, (3, 4, 6, 3), 64, None, 77, 49408, 512, 8, 12)

    official.load_clip = random_clip
    opt = types.SimpleNamespace(save_root='', clip_model='RN50', feature_dim=1024,
                                truncation=10, tg_epoch=0, kum_mode=kum_mode)
    torch.manual_seed(seed)
    return official.Model(opt).eval()


def _converter():
    """``tools/model_converters/ikun_official_to_mm.py`` of this checkout, loaded as a module."""
    path = osp.join(osp.dirname(HERE), 'tools', 'model_converters', 'ikun_official_to_mm.py')
    spec = importlib.util.spec_from_file_location('ikun_official_to_mm', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(official_repo: str, seed: int = 0, batch: int = 4) -> dict:
    import clip

    from ikun_mm.registry import MODELS
    from ikun_mm.utils import register_all_modules
    register_all_modules()
    convert = _converter().convert
    g = torch.Generator().manual_seed(seed + 1)
    local = torch.randn(batch, 2, 3, 224, 224, generator=g)
    glob = torch.randn(batch, 2, 3, 672, 672, generator=g)
    sentences = SENTENCES[:batch]
    results = {}
    for name, mode in VARIANTS.items():
        ref_model = _official_model(official_repo, mode, seed)
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = osp.join(tmp, 'official.pth'), osp.join(tmp, 'ours.pth')
            torch.save({'model': {f'module.{k}': v for k, v in ref_model.state_dict().items()},
                        'epoch': 0}, src)
            meta = convert(src, dst, name)
            from mmengine.config import Config
            from mmengine.runner import load_checkpoint
            ours = MODELS.build(Config.fromfile(meta['config']).model)
            load_checkpoint(ours, dst, map_location='cpu', strict=True)
        ours.eval()
        with torch.no_grad():
            ref = ref_model(dict(local_img=local, global_img=glob,
                                 exp=clip.tokenize(sentences)))['logits']
            got = ours.forward_pairs(local, glob, sentences)
            fast = ours.score_windows(local, glob, sentences)
            fast = torch.stack([fast[i][i] for i in range(batch)])
        results[name] = dict(max_abs_diff=float((got - ref).abs().max()),
                             max_abs_diff_fast_path=float((fast - ref).abs().max()),
                             logit_std=float(ref.std()), logit_max=float(ref.abs().max()),
                             official=[round(float(x), 6) for x in ref],
                             ikun_mm=[round(float(x), 6) for x in got])
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--official-repo', required=True,
                        help='checkout of the official iKUN repository')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    args = parser.parse_args(argv)
    if args.json:  # stdout carries the JSON only; logs and progress go to stderr
        from ikun_mm.utils import stdout_for_result
        result_stream = stdout_for_result()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    results = run(osp.abspath(args.official_repo), args.seed)
    if args.json:
        print(json.dumps(results), file=result_stream)
        return
    for name, r in results.items():
        print(f'{name:18s} max |ours - official| = {r["max_abs_diff"]:.2e} (fast path '
              f'{r["max_abs_diff_fast_path"]:.2e}); logits std {r["logit_std"]:.3f}, '
              f'max |logit| {r["logit_max"]:.3f}')


if __name__ == '__main__':
    main()
