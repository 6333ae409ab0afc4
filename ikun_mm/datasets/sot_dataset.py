"""Single-object-tracking datasets: GOT-10k, LaSOT, TrackingNet and COCO 2017 (real or generated).

Layouts read (the layouts of the official OSTrack / STARK / pytracking training readers):

* **GOT-10k** (and :mod:`ikun_mm.datasets.synthetic.sot_sequences`)::

      <data_root>/<split>/list.txt                 sequence names, one per line (optional)
      <data_root>/<split>/<seq>/00000001.jpg ...   frames (sorted by name)
      <data_root>/<split>/<seq>/groundtruth.txt    "x,y,w,h" per frame (test split: first only)
      <data_root>/<split>/<seq>/absence.label      "0"/"1" per frame, 1 = target absent (optional)
      <data_root>/<split>/<seq>/cover.label        0..8 per frame, 0 = fully covered (optional)

* **LaSOT**::

      <data_root>/<class>/<class>-<k>/img/00000001.jpg ...
      <data_root>/<class>/<class>-<k>/groundtruth.txt      "x,y,w,h" per frame
      <data_root>/<class>/<class>-<k>/full_occlusion.txt   "0,1,..." one line (optional)
      <data_root>/<class>/<class>-<k>/out_of_view.txt      "0,1,..." one line (optional)

* **TrackingNet** (training chunks ``TRAIN_0`` ... ``TRAIN_11``)::

      <data_root>/TRAIN_<i>/anno/<video>.txt               "x,y,w,h" per frame
      <data_root>/TRAIN_<i>/frames/<video>/0.jpg, 1.jpg ... frame n is "<n>.jpg", from 0

* **COCO 2017** (an image dataset: every non-crowd instance is a one-frame sequence)::

      <data_root>/annotations/instances_train2017.json
      <data_root>/images/train2017/<file_name>

Boxes become (x1, y1, x2, y2) = (x, y, x + w, y + h) in float pixels; frames without a box are
NaN. A frame is *valid* when its box is finite with w > 0 and h > 0, and *visible* when it is
valid and not flagged absent / occluded / out of view (the official readers' ``valid`` and
``visible``).

**Training** (``test_mode=False``): one item is one training sample, drawn at random as the
official ``TrackingSampler`` does (the item index only seeds the draw): a random sequence
(uniform over the dataset's sequences; video sequences are redrawn until
``frame_sampler.accepts`` them, i.e. they have enough visible frames), from which
``frame_sampler`` (:class:`SOTFrameSampler`) draws the template and search frames; the pipeline
then loads, augments and crops them (a sample the pipeline rejects is drawn again).
``samples_per_epoch`` sets the epoch length. :class:`SOTMixedDataset` mixes several datasets
with the official dataset ratios.
**Test** (``test_mode=True``): one item per frame, videos in order and frames in order, so a
sequential sampler feeds a stateful tracker frame by frame (``frame_id == 0`` starts a video).
"""
import bisect
import glob
import json
import os
import os.path as osp
from collections.abc import Sequence as SequenceABC
from typing import List, Optional, Sequence, Union

import numpy as np
import torch.utils.data
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
    """Read per-frame integer flags (one per line, or comma-separated); None if the file is absent.

    Returns:
        int64 np.ndarray of shape (length,) (0/1 flags, or GOT-10k's 0..8 cover levels).
    """
    if not osp.isfile(path):
        return None
    with open(path) as f:
        text = f.read().replace(',', '\n').split()
    try:
        flags = np.asarray([int(float(t)) for t in text], dtype=np.int64)
    except ValueError:
        raise SOTFormatError(f'{path}: expected integer flags') from None
    if len(flags) != length:
        raise SOTFormatError(f'{path}: {len(flags)} flags for {length} frames')
    return flags


def list_frames(folder: str) -> List[str]:
    """Sorted image files of a sequence folder; raises when there are none.

    Names that are plain numbers (TrackingNet's ``0.jpg``, ``1.jpg`` ... ``10.jpg``) sort
    numerically, other names (``00000001.jpg``) alphabetically.
    """
    if not osp.isdir(folder):
        raise SOTFormatError(f'{folder}: sequence folder does not exist')
    frames = [f for f in os.listdir(folder) if f.lower().endswith(IMG_EXTENSIONS)]
    if not frames:
        raise SOTFormatError(f'{folder}: no frames ({"/".join(IMG_EXTENSIONS)})')
    stems = [osp.splitext(f)[0] for f in frames]
    if all(s.isdigit() for s in stems):
        frames = [f for _, f in sorted(zip((int(s) for s in stems), frames))]
    else:
        frames = sorted(frames)
    return [osp.join(folder, f) for f in frames]


class FramePaths(SequenceABC):
    """Lazy list of frame paths ``pattern.format(i + start)`` for ``i < length`` (no listing).

    Used for TrackingNet, whose official reader builds frame names from the frame index.
    """

    def __init__(self, pattern: str, length: int, start: int = 0) -> None:
        self.pattern = pattern
        self.length = length
        self.start = start

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.length))]
        if i < 0:
            i += self.length
        if not 0 <= i < self.length:
            raise IndexError(f'frame {i} of {self.length}')
        return self.pattern.format(i + self.start)


def box_valid(bboxes: np.ndarray) -> np.ndarray:
    """bool (T,): finite boxes with positive width and height (the official ``valid``)."""
    return (np.isfinite(bboxes).all(1) & (bboxes[:, 2] > bboxes[:, 0])
            & (bboxes[:, 3] > bboxes[:, 1]))


def make_sequence(video: str, img_paths: Sequence[str], bboxes: np.ndarray, gt_file: str,
                  invisible: Optional[np.ndarray] = None, require_first: bool = True) -> dict:
    """Assemble a sequence dict, checking that boxes and frames agree.

    A ground truth with only the first box (GOT-10k / TrackingNet test) is padded with NaN boxes.

    Returns:
        dict with ``video``, ``img_paths``, ``bboxes`` (T, 4) float32 x1y1x2y2, ``valid`` and
        ``visible`` (bool (T,)).
    """
    n = len(img_paths)
    if len(bboxes) == 1 and n > 1:
        bboxes = np.concatenate([bboxes, np.full((n - 1, 4), np.nan, np.float32)])
    if len(bboxes) != n:
        raise SOTFormatError(f'{gt_file}: {len(bboxes)} boxes for {n} frames')
    valid = box_valid(bboxes)
    if require_first and not valid[0]:
        raise SOTFormatError(f'{gt_file}:1: the first frame needs a non-empty box')
    visible = valid if invisible is None else valid & ~invisible
    return dict(video=video, img_paths=img_paths, bboxes=bboxes, valid=valid, visible=visible)


class SOTDataset(BaseDataset):
    """Base of the SOT datasets; subclasses implement :meth:`load_sequences`.

    Args:
        data_root: root of the dataset.
        frame_sampler: config of the training frame sampler (``SOTFrameSampler``).
        samples_per_epoch: training samples per epoch (default: one per sequence).
        seed: optional seed of the training sampling (default: numpy's global state, which
            mmengine seeds per worker).
        max_sequence_draws: sequences drawn for one sample before giving up with an error (the
            official sampler loops forever when no sequence has enough visible frames).
        **kwargs: ``pipeline``, ``test_mode``, ``indices``... of ``BaseDataset``.

    Attributes:
        sequences (sequence of dict): ``video`` (str), ``img_paths`` (sequence of str),
            ``bboxes`` (np.ndarray (T, 4) float32, x1y1x2y2, NaN without a box), ``valid`` and
            ``visible`` (bool (T,)). A list, or a lazy sequence that reads one entry on access
            (TrackingNet, COCO).
        is_video (bool): False for image datasets (COCO), whose samples repeat the one frame.
        negative_source: object whose ``draw_search(rng)`` gives the search frame of a negative
            drawn outside the sequence (default: this dataset; :class:`SOTMixedDataset` sets
            itself, so negatives come from any dataset with the dataset ratios, as officially).
    """

    METAINFO = dict(classes=('target', ))
    is_video = True

    def __init__(self, data_root: str, frame_sampler: Optional[dict] = None,
                 samples_per_epoch: Optional[int] = None, seed: Optional[int] = None,
                 max_sequence_draws: int = 1000, **kwargs) -> None:
        self.frame_sampler = TASK_UTILS.build(
            frame_sampler if frame_sampler is not None else dict(type='SOTFrameSampler'))
        self.samples_per_epoch = samples_per_epoch
        self.max_sequence_draws = max_sequence_draws
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self.sequences: Sequence[dict] = []
        self.negative_source = self
        kwargs.setdefault('serialize_data', False)
        super().__init__(data_root=data_root, ann_file='', **kwargs)

    def load_sequences(self) -> Sequence[dict]:
        raise NotImplementedError

    def load_data_list(self) -> List[dict]:
        self.sequences = self.load_sequences()
        if len(self.sequences) == 0:
            raise SOTFormatError(f'{self.data_root}: no sequences found')
        if not self.test_mode:
            return list(self.sequences) if isinstance(self.sequences, list) else []
        frames = []
        for seq in self.sequences:
            init = seq['bboxes'][0]
            for i, path in enumerate(seq['img_paths']):
                frames.append(dict(img_path=path, video=seq['video'], frame_id=i,
                                   video_length=len(seq['img_paths']), init_bbox=init,
                                   gt_bbox=seq['bboxes'][i], visible=bool(seq['visible'][i])))
        return frames

    def __len__(self) -> int:
        if not self.test_mode:
            if self.samples_per_epoch is not None:
                return self.samples_per_epoch
            return len(self.sequences)
        return super().__len__()

    def _rng_for_sample(self, idx: int = 0) -> np.random.Generator:
        """The generator of one sample: the seeded one, else one seeded from numpy's global state
        and the item index (mmengine reseeds non-persistent workers identically every epoch;
        the shuffled indices still differ, so the samples do too)."""
        if self._rng is not None:
            return self._rng
        return np.random.default_rng([np.random.randint(0, 2**31 - 1), int(idx) & 0x7fffffff])

    def draw_sequence(self, rng: np.random.Generator) -> dict:
        """A uniformly random sequence that the frame sampler accepts (official
        ``sample_seq_from_dataset``: redrawn until it has enough visible frames)."""
        for _ in range(self.max_sequence_draws):
            seq = self.sequences[int(rng.integers(len(self.sequences)))]
            if self.frame_sampler.accepts(seq, self.is_video):
                return seq
        raise RuntimeError(
            f'{type(self).__name__}({self.data_root}): {self.max_sequence_draws} random '
            f'sequences in a row without enough visible frames for {self.frame_sampler!r}')

    def draw_search(self, rng: np.random.Generator) -> dict:
        """One search frame from a random sequence (official ``get_one_search``): any frame of a
        video (visible or not), the image of an image dataset.

        Returns:
            dict with ``img_path`` (str) and ``bbox`` (np.ndarray (4,), may be invalid).
        """
        seq = self.draw_sequence(rng)
        j = int(rng.integers(len(seq['img_paths']))) if self.is_video else 0
        return dict(img_path=seq['img_paths'][j], bbox=np.asarray(seq['bboxes'][j], np.float32))

    def prepare_data(self, idx: int):
        if self.test_mode:
            return super().prepare_data(idx)
        rng = self._rng_for_sample(idx)
        sequence = self.draw_sequence(rng)
        sample = self.frame_sampler(sequence, rng, self.negative_source, is_video=self.is_video)
        if sample is None:
            return None  # BaseDataset.__getitem__ draws again (official: the sample is redrawn)
        return self.pipeline(sample)


def _resolve(root: str, path: str) -> str:
    return path if osp.isabs(path) else osp.join(root, path)


@DATASETS.register_module()
class GOT10kDataset(SOTDataset):
    """GOT-10k layout (see the module docstring); also the synthetic sequences' layout.

    ``visible`` is, as in the official reader, ``not absent and cover > 0 and valid box``
    (``absence.label`` / ``cover.label`` are optional here).

    Args:
        split: sub-folder (``'train'``, ``'val'``, ``'test'``), or '' for sequences directly
            under ``data_root``.
        sequences: optional explicit sequence names (default: ``list.txt``, else all folders).
        seq_ids_file: optional text file (relative to ``data_root`` or absolute) of integer
            indices into the split's sequence list, one per line: the official split files such
            as pytracking's ``ltr/data_specs/got10k_vot_train_split.txt`` (the
            ``GOT10K_vottrain`` set of OSTrack / STARK / ATOM: GOT-10k train without the
            sequences that overlap VOT).
    """

    def __init__(self, data_root: str, split: str = 'train',
                 sequences: Optional[Sequence[str]] = None, seq_ids_file: Optional[str] = None,
                 **kwargs) -> None:
        self.split = split
        self.sequence_names = list(sequences) if sequences is not None else None
        self.seq_ids_file = seq_ids_file
        super().__init__(data_root=data_root, **kwargs)

    def _select_ids(self, names: List[str]) -> List[str]:
        path = _resolve(self.data_root, self.seq_ids_file)
        if not osp.isfile(path):
            raise SOTFormatError(f'{path}: GOT-10k sequence id file does not exist')
        chosen = []
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    k = int(line)
                except ValueError:
                    raise SOTFormatError(f'{path}:{lineno}: expected a sequence index, got '
                                         f'{line.strip()!r}') from None
                if not 0 <= k < len(names):
                    raise SOTFormatError(f'{path}:{lineno}: sequence index {k} out of range '
                                         f'({len(names)} sequences)')
                chosen.append(names[k])
        return chosen

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
        if self.seq_ids_file is not None:
            names = self._select_ids(names)
        sequences = []
        for name in names:
            folder = osp.join(root, name)
            frames = list_frames(folder)
            gt_file = osp.join(folder, 'groundtruth.txt')
            boxes = read_boxes_xywh(gt_file)
            invisible = None
            absent = read_flags(osp.join(folder, 'absence.label'), len(frames))
            cover = read_flags(osp.join(folder, 'cover.label'), len(frames))
            if absent is not None or cover is not None:
                invisible = np.zeros(len(frames), bool)
                if absent is not None:
                    invisible |= absent.astype(bool)
                if cover is not None:
                    invisible |= cover <= 0
            sequences.append(make_sequence(name, frames, boxes, gt_file, invisible))
        return sequences


@DATASETS.register_module()
class LaSOTDataset(SOTDataset):
    """LaSOT layout (see the module docstring).

    Args:
        split: a text file (relative to ``data_root`` or absolute) listing sequence names such as
            ``airplane-1`` one per line (LaSOT's ``training_set.txt`` / ``testing_set.txt``, or
            pytracking's ``lasot_train_split.txt``), a list of names, or None for every sequence
            found.
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
            path = _resolve(self.data_root, self.split)
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
                        invisible |= flags.astype(bool)
            sequences.append(make_sequence(name, frames, boxes, gt_file, invisible))
        return sequences


class _TrackingNetSequences(SequenceABC):
    """Lazy TrackingNet sequences: the annotation file is read when a sequence is accessed
    (as the official reader does per sample), frame paths are built from the frame index."""

    def __init__(self, entries: List[tuple]) -> None:
        self.entries = entries  # (chunk folder, video name)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> dict:
        chunk_dir, video = self.entries[i]
        gt_file = osp.join(chunk_dir, 'anno', video + '.txt')
        boxes = read_boxes_xywh(gt_file)
        frame_dir = osp.join(chunk_dir, 'frames', video)
        if len(boxes) == 1:  # test chunk: only the first box, count the frames
            frames = list_frames(frame_dir)
        else:
            frames = FramePaths(osp.join(frame_dir, '{}.jpg'), len(boxes))
        return make_sequence(video, frames, boxes, gt_file, require_first=False)


@DATASETS.register_module()
class TrackingNetDataset(SOTDataset):
    """TrackingNet layout (see the module docstring), read as the official training reader does.

    Sequences are the ``anno/*.txt`` files of the chosen chunks (sorted by name within a chunk;
    the official reader keeps ``os.listdir`` order); frame ``n`` is ``frames/<video>/<n>.jpg``
    and is not listed (a missing frame fails when it is loaded). Every frame with a valid box is
    visible (TrackingNet has no absence flags). Annotations are read when a sequence is drawn.

    Args:
        chunks: training chunks: integers ``i`` for ``TRAIN_<i>`` or folder names (e.g.
            ``'TEST'``). Default: all twelve ``TRAIN_0`` ... ``TRAIN_11``, as OSTrack / STARK
            (``TRACKINGNET``); pytracking's ATOM uses ``range(4)``.
    """

    def __init__(self, data_root: str, chunks: Optional[Sequence[Union[int, str]]] = None,
                 **kwargs) -> None:
        self.chunks = list(range(12)) if chunks is None else list(chunks)
        super().__init__(data_root=data_root, **kwargs)

    def load_sequences(self) -> Sequence[dict]:
        entries = []
        for chunk in self.chunks:
            name = f'TRAIN_{chunk}' if isinstance(chunk, int) else str(chunk)
            chunk_dir = osp.join(self.data_root, name)
            anno_dir = osp.join(chunk_dir, 'anno')
            if not osp.isdir(anno_dir):
                raise SOTFormatError(f'{anno_dir}: TrackingNet annotation folder does not exist')
            videos = sorted(osp.splitext(f)[0] for f in os.listdir(anno_dir)
                            if f.endswith('.txt'))
            entries += [(chunk_dir, v) for v in videos]
        return _TrackingNetSequences(entries)


class _COCOSequences(SequenceABC):
    """COCO instances as one-frame sequences, stored as arrays (about 860k instances)."""

    def __init__(self, img_paths: List[str], img_index: np.ndarray, bboxes: np.ndarray,
                 ann_ids: np.ndarray, min_size: float) -> None:
        self.img_paths = img_paths
        self.img_index = img_index
        self.bboxes = bboxes
        self.ann_ids = ann_ids
        self.min_size = min_size

    def __len__(self) -> int:
        return len(self.bboxes)

    def __getitem__(self, i: int) -> dict:
        box = self.bboxes[i:i + 1]
        valid = box_valid(box)
        wh = box[:, 2:] - box[:, :2]
        visible = valid & (wh > self.min_size).all(1)
        return dict(video=f'coco_{int(self.ann_ids[i])}',
                    img_paths=[self.img_paths[int(self.img_index[i])]], bboxes=box, valid=valid,
                    visible=visible)


@DATASETS.register_module()
class COCOSeqDataset(SOTDataset):
    """COCO instances as one-frame SOT sequences (official ``MSCOCOSeq``; an image dataset).

    Every annotation with ``iscrowd == 0`` is a sequence (crowd annotations are dropped, as in
    the official reader), in the order of the annotation file. ``visible`` is the official
    ``w > min_size and h > min_size`` (50 px in OSTrack / STARK's ``coco_seq``, 0 in
    pytracking's). Note: the official samplers never consult ``visible`` for image datasets
    (they repeat the image for every template and search frame), so small instances still train;
    the frame sampler here does the same and only skips empty boxes, which the official
    processing rejects too.

    Args:
        ann_file: instances json, relative to ``data_root`` (official layout:
            ``annotations/instances_train2017.json``; ATOM uses COCO 2014, ``..._train2014``).
        img_prefix: image folder, relative to ``data_root`` (``images/train2017``).
        min_size: side (pixels) above which an instance is ``visible``.
    """

    is_video = False

    def __init__(self, data_root: str,
                 ann_file: str = 'annotations/instances_train2017.json',
                 img_prefix: str = 'images/train2017', min_size: float = 50.,
                 **kwargs) -> None:
        self.coco_ann_file = ann_file
        self.img_prefix = img_prefix
        self.min_size = min_size
        super().__init__(data_root=data_root, **kwargs)

    def load_sequences(self) -> Sequence[dict]:
        path = _resolve(self.data_root, self.coco_ann_file)
        if not osp.isfile(path):
            raise SOTFormatError(f'{path}: COCO annotation file does not exist')
        try:
            with open(path) as f:
                data = json.load(f)
        except json.JSONDecodeError as e:
            raise SOTFormatError(f'{path}: not valid JSON ({e})') from None
        for key in ('images', 'annotations'):
            if not isinstance(data, dict) or not isinstance(data.get(key), list):
                raise SOTFormatError(f'{path}: no "{key}" list')
        img_dir = _resolve(self.data_root, self.img_prefix)
        img_paths, index_of = [], {}
        for k, img in enumerate(data['images']):
            try:
                index_of[img['id']] = len(img_paths)
                img_paths.append(osp.join(img_dir, img['file_name']))
            except (KeyError, TypeError):
                raise SOTFormatError(f'{path}: images[{k}] needs "id" and "file_name", got '
                                     f'{img!r}') from None
        img_index, boxes, ann_ids = [], [], []
        for k, ann in enumerate(data['annotations']):
            where = f'{path}: annotations[{k}]'
            if not isinstance(ann, dict):
                raise SOTFormatError(f'{where}: expected an object, got {ann!r}')
            if ann.get('iscrowd', 0):
                continue
            if ann.get('image_id') not in index_of:
                raise SOTFormatError(f'{where} (id {ann.get("id")}): unknown image_id '
                                     f'{ann.get("image_id")!r}')
            box = ann.get('bbox')
            try:
                x, y, w, h = (float(v) for v in box)
            except (TypeError, ValueError):
                raise SOTFormatError(f'{where} (id {ann.get("id")}): "bbox" must be 4 numbers '
                                     f'[x, y, w, h], got {box!r}') from None
            img_index.append(index_of[ann['image_id']])
            boxes.append((x, y, x + w, y + h))
            ann_ids.append(ann.get('id', k))
        return _COCOSequences(img_paths, np.asarray(img_index, np.int64),
                              np.asarray(boxes, np.float32).reshape(-1, 4),
                              np.asarray(ann_ids, np.int64), self.min_size)


@DATASETS.register_module()
class SOTMixedDataset(torch.utils.data.Dataset):
    """Several SOT datasets mixed with fixed ratios: the official ``TrackingSampler``.

    Each sample first draws a dataset with probability ``ratios[i] / sum(ratios)`` (the yaml's
    ``DATASETS_RATIO``), then a sample of it (see :class:`SOTDataset`); a sample that fails
    (``None``) is redrawn from a newly drawn dataset, as officially. Negatives of the frame
    sampler that leave their sequence (official ``get_one_search``) also draw the dataset by
    ratio. The item index only seeds the draw; ``samples_per_epoch`` is the epoch length
    (``SAMPLE_PER_EPOCH``).

    Args:
        datasets: configs (or instances) of :class:`SOTDataset` subclasses in training mode.
        ratios: sampling weight per dataset (default: equal).
        pipeline: the pipeline of every dataset config that does not give its own, so that a
            config changes the crop settings of all mixed datasets in one place.
        frame_sampler: likewise, the frame sampler of every dataset config without one.
        samples_per_epoch: items per epoch.
        max_refetch: failed samples in a row before giving up with an error.
    """

    def __init__(self, datasets: Sequence[Union[dict, SOTDataset]],
                 ratios: Optional[Sequence[float]] = None, samples_per_epoch: int = 60000,
                 max_refetch: int = 1000, lazy_init: bool = False,
                 pipeline: Optional[Sequence[dict]] = None,
                 frame_sampler: Optional[dict] = None) -> None:
        shared = {k: v for k, v in (('pipeline', pipeline), ('frame_sampler', frame_sampler))
                  if v is not None}
        self.datasets = [DATASETS.build({**shared, **d}) if isinstance(d, dict) else d
                         for d in datasets]
        if not self.datasets:
            raise ValueError('SOTMixedDataset needs at least one dataset')
        ratios = [1.] * len(self.datasets) if ratios is None else [float(r) for r in ratios]
        if len(ratios) != len(self.datasets) or min(ratios) < 0 or sum(ratios) <= 0:
            raise ValueError(f'SOTMixedDataset: ratios {ratios} must be one non-negative weight '
                             f'per dataset ({len(self.datasets)}), not all zero')
        self.ratios = np.asarray(ratios) / sum(ratios)
        self._cum = np.cumsum(self.ratios)
        self.samples_per_epoch = samples_per_epoch
        self.max_refetch = max_refetch
        for d in self.datasets:
            if getattr(d, 'test_mode', False):
                raise ValueError('SOTMixedDataset mixes training datasets (test_mode=False)')
            d.negative_source = self
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return self.datasets[0].metainfo

    def full_init(self) -> None:
        for d in self.datasets:
            d.full_init()

    def __len__(self) -> int:
        return self.samples_per_epoch

    def draw_dataset(self, rng: np.random.Generator) -> SOTDataset:
        k = min(bisect.bisect_right(self._cum, rng.random()), len(self.datasets) - 1)
        return self.datasets[k]

    def draw_search(self, rng: np.random.Generator) -> dict:
        """Official ``get_one_search``: dataset by ratio, then one of its frames."""
        return self.draw_dataset(rng).draw_search(rng)

    def __getitem__(self, idx: int):
        rng = np.random.default_rng([np.random.randint(0, 2**31 - 1), int(idx) & 0x7fffffff])
        for _ in range(self.max_refetch + 1):
            data = self.draw_dataset(rng).prepare_data(idx)
            if data is not None:
                return data
        raise RuntimeError(f'SOTMixedDataset: {self.max_refetch + 1} failed samples in a row')
