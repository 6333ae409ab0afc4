"""Convert a Refer-KITTI tree (real or generated) to what mmdet's MOT datasets read.

Writes, under ``out``::

    <split>/<video>/img1/<frame+1:06d>.png   links to the Refer-KITTI frames (copies with
                                              ``link=False``)
    <split>/<video>/gt/gt.txt                MOTChallenge GT: frame(1-based),id,x,y,w,h,1,1,1
    <split>/<video>/seqinfo.ini              MOTChallenge sequence info
    annotations/<split>_cocoformat.json      CocoVideo json as written by mmdet's mot2coco

so ``MOTChallengeDataset(data_root=out, ann_file='annotations/train_cocoformat.json',
data_prefix=dict(img_path='train'))`` loads it and ``MOTChallengeMetric`` names each sequence after
its video (it takes the third-last component of the image path).

Class handling: FairMOT is a single-class tracker and ``MOTChallengeMetric`` (TrackEval's
MOT17 protocol) evaluates only class id 1, so every object becomes category 1 named ``object``;
the Refer-KITTI class is kept per annotation as ``refer_kitti_cls``. Identities get contiguous ids
``0 .. num_instances-1`` over a split (as mmdet's mot2coco), unique across videos, which is what
FairMOT's identity classifier needs; ``num_instances`` is stored in the json.
"""
import json
import os
import os.path as osp
import shutil
from typing import Dict, Sequence

from ikun_mm.structures import GT_ROW, xyxy_to_xywh
from .refer_kitti_io import load_video_annotation, resolve_videos

CATEGORY = dict(id=1, name='object')


def _link_or_copy(src: str, dst: str, link: bool) -> None:
    if osp.lexists(dst):
        os.remove(dst)
    if link:
        os.symlink(osp.relpath(src, osp.dirname(dst)), dst)
    else:
        shutil.copyfile(src, dst)


def convert_split(data_root: str, out: str, split: str, link: bool = True,
                  drop_empty_frames: bool = False, fps: int = 10) -> Dict[str, object]:
    """Convert one split (``'train'``, ``'test'`` or a list of video names).

    Args:
        data_root: root of the Refer-KITTI tree.
        out: output root.
        split: split name (from ``split.json``) or list of videos; a list is written as
            ``custom``.
        link: link the frames instead of copying them.
        drop_empty_frames: leave frames without objects out of the json (mmdet's
            ``MOTChallengeDataset`` refuses them in training mode); keep them for evaluation.
        fps: frame rate written to ``seqinfo.ini`` and the json (KITTI: 10).

    Returns:
        summary dict: ``ann_file``, ``videos``, ``images``, ``annotations``, ``num_instances``.
    """
    name = split if isinstance(split, str) else 'custom'
    videos = resolve_videos(data_root, split)
    coco = dict(categories=[CATEGORY], videos=[], images=[], annotations=[])
    img_id = ann_id = 1
    instance_ids: Dict[tuple, int] = {}
    for vid_id, video in enumerate(videos, 1):
        ann = load_video_annotation(data_root, video)
        width, height = ann.img_size
        seq_dir = osp.join(out, name, video)
        os.makedirs(osp.join(seq_dir, 'img1'), exist_ok=True)
        os.makedirs(osp.join(seq_dir, 'gt'), exist_ok=True)
        ext = osp.splitext(ann.img_paths[0])[1]
        with open(osp.join(seq_dir, 'seqinfo.ini'), 'w') as f:
            f.write(f'[Sequence]\nname={video}\nimDir=img1\nframeRate={fps}\n'
                    f'seqLength={ann.num_frames}\nimWidth={width}\nimHeight={height}\n'
                    f'imExt={ext}\n')
        coco['videos'].append(dict(id=vid_id, name=video, fps=fps, width=width, height=height))
        gt_lines = []
        for frame, src in enumerate(ann.img_paths):
            file_name = osp.join(video, 'img1', f'{frame + 1:06d}{ext}')
            _link_or_copy(osp.abspath(src), osp.join(out, name, file_name), link)
            rows = ann.boxes[ann.boxes[:, GT_ROW.frame] == frame]
            if drop_empty_frames and len(rows) == 0:
                continue
            coco['images'].append(dict(id=img_id, video_id=vid_id, file_name=file_name,
                                       height=height, width=width, frame_id=frame,
                                       mot_frame_id=frame + 1))
            for tid, cls, (x1, y1, w, h) in zip(rows[:, GT_ROW.id], rows[:, GT_ROW.cls],
                                                xyxy_to_xywh(GT_ROW.boxes(rows))):
                key = (video, int(tid))
                if key not in instance_ids:
                    instance_ids[key] = len(instance_ids)
                w, h = float(w), float(h)
                coco['annotations'].append(dict(
                    id=ann_id, image_id=img_id, category_id=CATEGORY['id'],
                    instance_id=instance_ids[key], mot_instance_id=int(tid),
                    bbox=[float(x1), float(y1), w, h], area=w * h, iscrowd=False,
                    visibility=1.0, mot_conf=1.0, refer_kitti_cls=int(cls)))
                gt_lines.append(f'{frame + 1},{int(tid)},{x1:.2f},{y1:.2f},{w:.2f},{h:.2f},1,1,1\n')
                ann_id += 1
            img_id += 1
        with open(osp.join(seq_dir, 'gt', 'gt.txt'), 'w') as f:
            f.writelines(gt_lines)
    coco['num_instances'] = len(instance_ids)
    ann_file = osp.join(out, 'annotations', f'{name}_cocoformat.json')
    os.makedirs(osp.dirname(ann_file), exist_ok=True)
    with open(ann_file, 'w') as f:
        json.dump(coco, f)
    return dict(ann_file=ann_file, videos=len(videos), images=len(coco['images']),
                annotations=len(coco['annotations']), num_instances=len(instance_ids))


def convert_refer_kitti_to_mot(data_root: str, out: str,
                               splits: Sequence[str] = ('train', 'test'),
                               link: bool = True) -> Dict[str, dict]:
    """Convert several splits; training splits (named ``train*``) drop frames without objects.

    Returns:
        split name -> summary of :func:`convert_split`.
    """
    return {
        split: convert_split(data_root, out, split, link=link,
                             drop_empty_frames=split.startswith('train'))
        for split in splits
    }
