"""Naive vs fast iKUN inference, side by side in one process on the same inputs.

    python benchmarks/ikun_inference.py --json
    python benchmarks/ikun_inference.py --tracks 4 --frames 8 --expressions 32 --local-size 64

Builds iKUN with the default architecture (CLIP RN50 image tower without attention pooling,
frozen CLIP RN50 text tower, cascade-attention KUM; random weights, no download) at a small input
size, makes a synthetic video with ``--tracks`` tracks and ``--expressions`` expressions, and
scores every (window, expression) pair with :func:`ikun_mm.models.referring.score_tracks` twice:
``fast=False`` (one full forward, text included, per pair) and ``fast=True`` (visual encoding once
per window, KUM + head for all expressions batched). Prints pairs/s of both, the speedup and the
largest absolute difference of the per-(track, frame, expression) scores.
"""
import argparse
import contextlib
import json
import sys
import time

import numpy as np
import torch

WORDS = ['red', 'blue', 'white', 'black', 'yellow', 'green']
NOUNS = ['cars', 'pedestrians', 'vehicles', 'people']
TAILS = ['moving left', 'moving right', 'on the left', 'on the right', 'parked', 'walking']


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tracks', type=int, default=4)
    parser.add_argument('--frames', type=int, default=12,
                        help='frames per track (12: two windows per track)')
    parser.add_argument('--expressions', type=int, default=24)
    parser.add_argument('--local-size', type=int, default=64)
    parser.add_argument('--global-size', type=int, default=128)
    parser.add_argument('--kum', default='CascadeAttentionKUM')
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', action='store_true', help='print one JSON object only')
    return parser.parse_args()


def build_model(args):
    from ikun_mm.registry import MODELS
    from ikun_mm.utils import register_all_modules
    register_all_modules()
    torch.manual_seed(args.seed)
    return MODELS.build(dict(
        type='IKUN',
        visual_encoder=dict(type='IKUNVisualEncoder',
                            backbone=dict(type='CLIPResNetBackbone', model_name='RN50'),
                            local_size=args.local_size, global_size=args.global_size),
        text_encoder=dict(type='CLIPTextEncoder', model_name='RN50'),
        kum=dict(type=args.kum))).eval()


def make_inputs(args):
    rng = np.random.default_rng(args.seed)
    h, w = 128, 384
    frames = [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in range(args.frames)]
    tracks = {}
    for tid in range(args.tracks):
        x0, y0 = rng.uniform(0, w - 80), rng.uniform(0, h - 50)
        tracks[tid] = np.array([[f, x0 + 3 * f, y0, x0 + 3 * f + 60, y0 + 40]
                                for f in range(args.frames)], dtype=float)
    sentences = [f'{WORDS[i % 6]} {NOUNS[(i // 6) % 4]} {TAILS[(i // 24 + i) % 6]}'
                 for i in range(args.expressions)]
    return frames, tracks, sentences


def main():
    args = parse_args()
    if args.json:  # stdout carries the JSON only; logs and progress go to stderr
        from ikun_mm.utils import stdout_for_result
        result_stream = stdout_for_result()
    # logs (e.g. the random-init warnings) go to stderr: stdout holds the result only
    with contextlib.redirect_stdout(sys.stderr):
        result = run(args)
    if args.json:
        print(json.dumps(result), file=result_stream)
    else:
        for k, v in result.items():
            print(f'{k:>20}: {v:.6g}' if isinstance(v, float) else f'{k:>20}: {v}')


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    from ikun_mm.models.referring import score_tracks
    from ikun_mm.structures.track_windows import track_windows
    model = build_model(args)
    frames, tracks, sentences = make_inputs(args)
    windows = sum(len(track_windows(t[:, 0].astype(int))) for t in tracks.values())
    pairs = windows * len(sentences)

    score_tracks(model, frames, {0: tracks[0][:2]}, sentences[:2], fast=True)  # warm-up
    t0 = time.perf_counter()
    naive = score_tracks(model, frames, tracks, sentences, fast=False)
    t_naive = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = score_tracks(model, frames, tracks, sentences, fast=True)
    t_fast = time.perf_counter() - t0
    diff = max(float(np.abs(fast[t].scores - naive[t].scores).max()) for t in tracks)
    result = dict(
        naive_pairs_per_s=pairs / t_naive, fast_pairs_per_s=pairs / t_fast,
        speedup=t_naive / t_fast, max_abs_diff=diff, tracks=len(tracks),
        expressions=len(sentences), windows=windows, pairs=pairs, naive_s=t_naive,
        fast_s=t_fast, kum=args.kum, local_size=args.local_size,
        global_size=args.global_size, threads=args.threads, backbone='CLIP RN50 (random init)',
        text_encoder='CLIP RN50 text tower (random init)')
    return result


if __name__ == '__main__':
    main()
