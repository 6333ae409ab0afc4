"""Single-object-tracking datasets: GOT-10k and LaSOT layouts (real or generated).

Layouts read:

* **GOT-10k** (and :mod:`ikun_mm.datasets.synthetic.sot_sequences`)::

      <data_root>/<split>/list.txt                 sequence names, one per line (optional)
      <data_root>/<split>/<seq>/00000001.jpg ...   frames (sorted by name)
      <data_root>/<split>/<seq>/groundtruth.txt    "x,y,w,h" per frame (test split: first only)
      <data_root>/<split>/<seq>/absence.label      "0"/"1" per frame, 1 = target absent (optional)

* **LaSOT**::

      <data_root>/<class>/<class>-<k>/img/00000001.jpg ...
      <data_root>/<class>/<class>-<k>/groundtruth.txt      "x,y,w,h" per frame
      <data_root>/<class>/<class>-<k>/full_occlusion.txt   "0,1,..." one line (optional)
      <data_root>/<class>/<class>-<k>/out_of_view.txt      "0,1,..." one line (optional)

Boxes become (x1, y1, x2, y2) = (x, y, x + w, y + h) in float pixels; frames without a box are
NaN and not visible.

**Training** (``test_mode=False``): one item is one training sample: a sequence (``idx`` modulo
the number of sequences; ``samples_per_epoch`` sets the epoch length, as SOT trainers draw a fixed
number of pairs per epoch) from which ``frame_sampler`` (:class:`SOTFrameSampler`) draws the
template and search frames; the pipeline then loads and crops them.
**Test** (``test_mode=True``): one item per frame, videos in order and frames in order, so a
sequential sampler feeds a stateful tracker frame by frame (``frame_id == 0`` starts a video).
"""
import glob
import os
import os.path as osp
from typing import List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset

from ikun_mm.registry import DATASETS, TASK_UTILS

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png')


class SOTFormatError(ValueError):
    """A SOT dataset file is missing or malformed; the message names the file and the line."""


def read_boxes_xywh(path: str) -> np.ndarray:
    """Read a ``groundtruth.txt`` of ``x,y,w,h`` lines (commas, tabs or spaces) as x1y1x2y2.

    Lines ``NaN`` or empty-valued give NaN boxes.

    Returns:
        np.ndarray of shape (T, 4) float32.
    """
    if not osp.isfile(path):
        raise SOTFormatError(f'{path}: groundtruth file does not exist')
    rows = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            parts = line.replace('\t', ',').replace(' ', ',').split(',')
            parts = [p for p in parts if p != '']
            try:
                vals = [float(p) for p in parts]
            except ValueError:
                raise SOTFormatError(f'{path}:{lineno}: expected 4 numbers "x,y,w,h", '
                                     f'got {line!r}') from None
            if len(vals) != 4:
                raise SOTFormatError(f'{path}:{lineno}: expected 4 numbers "x,y,w,h", '
                                     f'got {len(vals)}: {line!r}')
            rows.append(vals)
    if not rows:
        raise SOTFormatError(f'{path}: no boxes')
    xywh = np.asarray(rows, dtype=np.float32)
    return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)


def read_flags(path: str, length: int) -> Optional[np.ndarray]:
    """Read per-frame 0/1 flags (one per line, or comma-separated); None if the file is absent.

    Returns:
        bool np.ndarray of shape (length,).
    """
    if not osp.isfile(path):
        return None
    with open(path) as f:
        text = f.read().replace(',', '\n').split()
    try:
        flags = np.asarray([int(float(t)) for t in text], dtype=bool)
    except ValueError:
        raise SOTFormatError(f'{path}: expected 0/1 flags') from None
    if len(flags) != length:
        raise SOTFormatError(f'{path}: {len(flags)} flags for {length} frames')
    return flags


def list_frames(folder: str) -> List[str]:
    """Sorted image files of a sequence folder; raises when there are none."""
    if not osp.isdir(folder):
        raise SOTFormatError(f'{folder}: sequence folder does not exist')
    frames = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMG_EXTENSIONS))
    if not frames:
        raise SOTFormatError(f'{folder}: no frames ({"/".join(IMG_EXTENSIONS)})')
    return [osp.join(folder, f) for f in frames]


def make_sequence(video: str, img_paths: List[str], bboxes: np.ndarray, gt_file: str,
                  invisible: Optional[np.ndarray] = None) -> dict:
    """Assemble a sequence dict, checking that boxes and frames agree.

    A ground truth with only the first box (GOT-10k test) is padded with NaN boxes.
    """
    n = len(img_paths)
    if len(bboxes) == 1 and n > 1:
        bboxes = np.concatenate([bboxes, np.full((n - 1, 4), np.nan, np.float32)])
    if len(bboxes) != n:
        raise SOTFormatError(f'{gt_file}: {len(bboxes)} boxes for {n} frames')
    valid = np.isfinite(bboxes).all(1) & (bboxes[:, 2] > bboxes[:, 0]) & (bboxes[:, 3] >
                                                                         bboxes[:, 1])
    if not valid[0]:
        raise SOTFormatError(f'{gt_file}:1: the first frame needs a non-empty box')
    visible = valid if invisible is None else valid & ~invisible
    return dict(video=video, img_paths=img_paths, bboxes=bboxes, visible=visible)


class SOTDataset(BaseDataset):
    """Base of the SOT datasets; subclasses implement :meth:`load_sequences`.

    Args:
        data_root: root of the dataset.
        frame_sampler: config of the training frame sampler (``SOTFrameSampler``).
        samples_per_epoch: training samples per epoch (default: one per sequence).
        seed: optional seed of the training sampling (default: numpy's global state, which
            mmengine seeds per worker).
        **kwargs: ``pipeline``, ``test_mode``, ``indices``... of ``BaseDataset``.

    Attributes:
        sequences (list of dict): ``video`` (str), ``img_paths`` (list of str), ``bboxes``
            (np.ndarray (T, 4) float32, x1y1x2y2, NaN without a box), ``visible`` (bool (T,)).
    """

    METAINFO = dict(classes=('target', ))

    def __init__(self, data_root: str, frame_sampler: Optional[dict] = None,
                 samples_per_epoch: Optional[int] = None, seed: Optional[int] = None,
                 **kwargs) -> None:
        self.frame_sampler = TASK_UTILS.build(
            frame_sampler if frame_sampler is not None else dict(type='SOTFrameSampler'))
        self.samples_per_epoch = samples_per_epoch
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self.sequences: List[dict] = []
        kwargs.setdefault('serialize_data', False)
        super().__init__(data_root=data_root, ann_file='', **kwargs)

    def load_sequences(self) -> List[dict]:
        raise NotImplementedError

    def load_data_list(self) -> List[dict]:
        self.sequences = self.load_sequences()
        if not self.sequences:
            raise SOTFormatError(f'{self.data_root}: no sequences found')
        if not self.test_mode:
            return list(self.sequences)
        frames = []
        for seq in self.sequences:
            init = seq['bboxes'][0]
            for i, path in enumerate(seq['img_paths']):
                frames.append(dict(img_path=path, video=seq['video'], frame_id=i,
                                   video_length=len(seq['img_paths']), init_bbox=init,
                                   gt_bbox=seq['bboxes'][i], visible=bool(seq['visible'][i])))
        return frames

    def __len__(self) -> int:
        if not self.test_mode and self.samples_per_epoch is not None:
            return self.samples_per_epoch
        return super().__len__()

    def _rng_for_sample(self) -> np.random.Generator:
        if self._rng is not None:
            return self._rng
        return np.random.default_rng(np.random.randint(0, 2**31 - 1))

    def prepare_data(self, idx: int):
        if self.test_mode:
            return super().prepare_data(idx)
        sequence = self.sequences[idx % len(self.sequences)]
        sample = self.frame_sampler(sequence, self._rng_for_sample(), self.sequences)
        if sample is None:
            return None  # BaseDataset.__getitem__ refetches another index
        return self.pipeline(sample)


@DATASETS.register_module()
class GOT10kDataset(SOTDataset):
    """GOT-10k layout (see the module docstring); also the synthetic sequences' layout.

    Args:
        split: sub-folder (``'train'``, ``'val'``, ``'test'``), or '' for sequences directly
            under ``data_root``.
        sequences: optional explicit sequence names (default: ``list.txt``, else all folders).
    """

    def __init__(self, data_root: str, split: str = 'train',
                 sequences: Optional[Sequence[str]] = None, **kwargs) -> None:
        self.split = split
        self.sequence_names = list(sequences) if sequences is not None else None
        super().__init__(data_root=data_root, **kwargs)

    def load_sequences(self) -> List[dict]:
        root = osp.join(self.data_root, self.split)
        if not osp.isdir(root):
            raise SOTFormatError(f'{root}: GOT-10k split folder does not exist')
        names = self.sequence_names
        if names is None:
            list_file = osp.join(root, 'list.txt')
            if osp.isfile(list_file):
                with open(list_file) as f:
                    names = [ln.strip() for ln in f if ln.strip()]
            else:
                names = sorted(d for d in os.listdir(root) if osp.isdir(osp.join(root, d)))
        sequences = []
        for name in names:
            folder = osp.join(root, name)
            frames = list_frames(folder)
            gt_file = osp.join(folder, 'groundtruth.txt')
            boxes = read_boxes_xywh(gt_file)
            absent = read_flags(osp.join(folder, 'absence.label'), len(frames))
            sequences.append(make_sequence(name, frames, boxes, gt_file, absent))
        return sequences


@DATASETS.register_module()
class LaSOTDataset(SOTDataset):
    """LaSOT layout (see the module docstring).

    Args:
        split: a text file (relative to ``data_root`` or absolute) listing sequence names such as
            ``airplane-1`` one per line (LaSOT's ``testing_set.txt``), a list of names, or None
            for every sequence found.
    """

    def __init__(self, data_root: str, split: Union[None, str, Sequence[str]] = None,
                 **kwargs) -> None:
        self.split = split
        super().__init__(data_root=data_root, **kwargs)

    def _names(self) -> List[str]:
        if self.split is None:
            found = glob.glob(osp.join(self.data_root, '*', '*', 'groundtruth.txt'))
            return sorted(osp.basename(osp.dirname(p)) for p in found)
        if isinstance(self.split, str):
            path = self.split if osp.isabs(self.split) else osp.join(self.data_root, self.split)
            if not osp.isfile(path):
                raise SOTFormatError(f'{path}: LaSOT split file does not exist')
            with open(path) as f:
                return [ln.strip() for ln in f if ln.strip()]
        return list(self.split)

    def load_sequences(self) -> List[dict]:
        sequences = []
        for name in self._names():
            if '-' not in name:
                raise SOTFormatError(f'LaSOT sequence name {name!r} is not "<class>-<index>"')
            folder = osp.join(self.data_root, name.rsplit('-', 1)[0], name)
            frames = list_frames(osp.join(folder, 'img'))
            gt_file = osp.join(folder, 'groundtruth.txt')
            boxes = read_boxes_xywh(gt_file)
            occl = read_flags(osp.join(folder, 'full_occlusion.txt'), len(frames))
            oov = read_flags(osp.join(folder, 'out_of_view.txt'), len(frames))
            invisible = None
            if occl is not None or oov is not None:
                invisible = np.zeros(len(frames), bool)
                for flags in (occl, oov):
                    if flags is not None:
                        invisible |= flags
            sequences.append(make_sequence(name, frames, boxes, gt_file, invisible))
        return sequences
