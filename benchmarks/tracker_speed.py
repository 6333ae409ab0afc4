"""Tracking speed (ms/frame) of NeuralSORT, OC-SORT and ByteTrack on identical detections, side
by side in one process.

    python benchmarks/tracker_speed.py [--data-root data/mini_refer_kitti] [--repeats 3]
        [--nkf-checkpoint CKPT] [--json]

Each tracker (built from its config, ``benchmarks/tracker_configs.py``) tracks every video's
detection file; detections are loaded before timing, so only ``tracker.track`` is timed. The
trackers run interleaved per video and the best of ``--repeats`` runs is kept, which evens out
load from other processes. Target: NeuralSORT <= 1.5x OC-SORT.
"""
import argparse
import json
import os.path as osp
import time

from tracker_configs import tracker_config_path  # benchmarks/tracker_configs.py


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', default='data/mini_refer_kitti')
    parser.add_argument('--trackers', nargs='+', default=['neuralsort', 'ocsort', 'bytetrack'])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--nkf-checkpoint', default=None)
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args()
    if args.json:  # stdout carries the JSON only; logs and progress go to stderr
        from ikun_mm.utils import stdout_for_result
        result_stream = stdout_for_result()

    import torch
    torch.set_num_threads(1)
    from mmdet.structures import DetDataSample
    from mmengine.config import Config

    from ikun_mm.datasets.refer_kitti_io import DETECTION_DIR, load_video_annotation, resolve_videos
    from ikun_mm.registry import MODELS
    from ikun_mm.utils import register_all_modules
    register_all_modules(init_default_scope=True)

    videos = sorted(resolve_videos(args.data_root, 'train') +
                    resolve_videos(args.data_root, 'test'))
    models = {}
    for name in args.trackers:
        cfg = Config.fromfile(tracker_config_path(name))
        cfg.model.detector.det_dir = osp.join(args.data_root, DETECTION_DIR)
        if name == 'neuralsort' and args.nkf_checkpoint:
            cfg.model.tracker.motion.checkpoint = args.nkf_checkpoint
        models[name] = MODELS.build(cfg.model).eval()
    # detections of every frame, prepared once and shared by all trackers
    frames = []
    for v in videos:
        ann = load_video_annotation(args.data_root, v)
        w, h = ann.img_size
        samples = []
        for f in range(ann.num_frames):
            s = DetDataSample(metainfo=dict(frame_id=f, video=v, img_shape=(h, w),
                                            ori_shape=(h, w)))
            samples.append(next(iter(models.values())).detector.predict(None, [s])[0])
        frames.append(samples)
    num_frames = sum(len(s) for s in frames)
    num_dets = sum(len(x.pred_instances) for s in frames for x in s)

    best = {name: float('inf') for name in models}
    with torch.no_grad():
        for _ in range(args.repeats):
            total = {name: 0. for name in models}
            for samples in frames:
                for name, model in models.items():
                    t0 = time.perf_counter()
                    for s in samples:
                        model.tracker.track(data_sample=s, model=model, img=None)
                    total[name] += time.perf_counter() - t0
            for name in models:
                best[name] = min(best[name], total[name])
    ms = {name: 1000 * t / num_frames for name, t in best.items()}
    out = dict(frames=num_frames, detections_per_frame=num_dets / num_frames,
               ms_per_frame=ms, nkf_checkpoint=args.nkf_checkpoint)
    if 'neuralsort' in ms and 'ocsort' in ms:
        out['neuralsort_over_ocsort'] = ms['neuralsort'] / ms['ocsort']
        out['meets_target'] = out['neuralsort_over_ocsort'] <= 1.5
    if args.json:
        print(json.dumps(out, indent=1), file=result_stream)
    else:
        print(f'{num_frames} frames, {out["detections_per_frame"]:.1f} detections/frame')
        for name, v in ms.items():
            print(f'{name:12s} {v:7.2f} ms/frame')
        if 'neuralsort_over_ocsort' in out:
            print(f'NeuralSORT / OC-SORT = {out["neuralsort_over_ocsort"]:.2f} (target <= 1.5)')


if __name__ == '__main__':
    main()
