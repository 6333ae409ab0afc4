"""Readers for the Refer-KITTI layout (real Refer-KITTI, Refer-KITTI-V2, Refer-Dance, and the
generated mini Refer-KITTI alike).

Layout under ``data_root``::

    KITTI/training/image_02/<video>/<frame:06d>.png         frames, 0-based index
    KITTI/labels_with_ids/image_02/<video>/<frame:06d>.txt  `<cls> <track_id> <x1> <y1> <w> <h>`,
                                                            normalised by the image W and H
    expression/<video>/<sentence-with-dashes>.json          {"label": {"<frame>": [ids]},
                                                             "ignore": [...], "video_name": ...,
                                                             "sentence": ...}

Optional files written by ``tools/data/generate_refer_kitti.py`` and
``tools/data/prepare_refer_kitti.py``: ``split.json`` (``{"train": [...], "test": [...]}``) and
``KITTI/detections/image_02/<video>.txt`` (MOTChallenge detections).

Everything here is plain Python + numpy; every malformed input raises :class:`ReferKittiFormatError`
naming the file (and line) and what is wrong.
"""
import json
import os
import os.path as osp
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ikun_mm.structures.expression_synonyms import Synonyms, canonical_sentence, resolve_synonyms
from ikun_mm.structures import (DET_ROW, GT_ROW, MOT_FILE_ROW, MOT_GT_ROW, REFERRED_ROW,
                                TRACK_BOX_ROW, normalized_to_pixels, xywh_to_xyxy, xyxy_to_xywh)

#: The split of the Refer-KITTI paper (TransRMOT; as in the official iKUN utils.py); used when
#: ``data_root`` has no ``split.json``.
REFER_KITTI_SPLIT = {
    'train': ['0001', '0002', '0003', '0004', '0006', '0007', '0008', '0009', '0010', '0012',
              '0014', '0015', '0016', '0018', '0020'],
    'test': ['0005', '0011', '0013'],
}

IMAGE_DIR = osp.join('KITTI', 'training', 'image_02')
LABEL_DIR = osp.join('KITTI', 'labels_with_ids', 'image_02')
DETECTION_DIR = osp.join('KITTI', 'detections', 'image_02')
EXPRESSION_DIR = 'expression'
SPLIT_FILE = 'split.json'
IMAGE_EXTS = ('.png', '.jpg', '.jpeg')


class ReferKittiFormatError(ValueError):
    """A Refer-KITTI file is missing or malformed; the message names the file and the problem."""


@dataclass
class VideoAnnotation:
    """Ground truth of one video.

    Attributes:
        name: video name, e.g. ``'0005'``.
        img_paths: absolute image path per frame index (``img_paths[f]`` is frame ``f``).
        img_size: ``(width, height)`` in pixels.
        boxes: float array of shape (N, 7), columns
            :data:`~ikun_mm.structures.GT_ROW`: ``frame, id, cls, x1, y1, x2, y2`` in pixels,
            sorted by (frame, id).
    """
    name: str
    img_paths: List[str]
    img_size: Tuple[int, int]
    boxes: np.ndarray

    @property
    def num_frames(self) -> int:
        return len(self.img_paths)

    def track_ids(self) -> List[int]:
        return sorted(int(i) for i in np.unique(self.boxes[:, GT_ROW.id]))

    def track(self, track_id: int) -> np.ndarray:
        """Rows of one track, shape (L, 7) (:data:`~ikun_mm.structures.GT_ROW`), sorted by
        frame."""
        return self.boxes[self.boxes[:, GT_ROW.id] == track_id]

    def track_boxes(self) -> Dict[int, np.ndarray]:
        """Every GT track as ``{track_id: array (L, 5) frame, x1, y1, x2, y2}``
        (:data:`~ikun_mm.structures.TRACK_BOX_ROW`), the track format
        :func:`~ikun_mm.models.referring.score_tracks` takes."""
        return {tid: GT_ROW.to(TRACK_BOX_ROW, self.track(tid)) for tid in self.track_ids()}


@dataclass
class Expression:
    """One referring expression of one video.

    Attributes:
        video: video name.
        sentence: the free-text expression.
        file: the JSON file it was read from.
        label: frame index -> ids of the referred objects in that frame.
        ignore: the JSON's ``ignore`` field, kept as read.
    """
    video: str
    sentence: str
    file: str
    label: Dict[int, List[int]] = field(default_factory=dict)
    ignore: list = field(default_factory=list)

    def positives(self) -> set:
        """``{(frame, track_id)}`` pairs for which the expression holds."""
        return {(f, i) for f, ids in self.label.items() for i in ids}


def sentence_to_filename(sentence: str) -> str:
    """``'cars moving left'`` -> ``'cars-moving-left.json'`` (Refer-KITTI's naming)."""
    return '-'.join(sentence.strip().split()) + '.json'


def list_frame_files(folder: str, exts: Sequence[str] = IMAGE_EXTS) -> Dict[int, str]:
    """``{frame index: path}`` of the files ``<digits><ext>`` of ``folder``.

    Raises:
        ReferKittiFormatError: two files name the same frame (``000005.png`` and ``5.png``, or
            ``000005.png`` and ``000005.jpg``); the message names both.
    """
    frames = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = osp.splitext(name)
        if ext.lower() in exts and stem.isdigit():
            path = osp.join(folder, name)
            if int(stem) in frames:
                raise ReferKittiFormatError(
                    f'{frames[int(stem)]} and {path}: two files for frame {int(stem)}; keep one '
                    '(frames are named <frame:06d>.png)')
            frames[int(stem)] = path
    return frames


#: The first 8 bytes of every PNG file, and the last 12 of a complete one (its IEND chunk).
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_PNG_END = b'\x00\x00\x00\x00IEND\xaeB`\x82'


def image_header_size(path: str, check_complete: bool = True) -> Tuple[int, int]:
    """``(width, height)`` of an image from its header, without decoding the pixels.

    PNG: the IHDR chunk (the first 24 bytes); other formats: PIL's lazy ``Image.open`` (reads
    the header only). With ``check_complete``, the end of the file is checked too (a PNG ends
    with its IEND chunk, a JPEG with the EOI marker ``FF D9``), which finds files truncated by an
    interrupted copy without decoding them.

    Raises:
        ReferKittiFormatError: naming ``path``: unreadable, not an image, or truncated.
    """
    try:
        with open(path, 'rb') as f:
            head = f.read(24)
            if head[:8] == _PNG_SIGNATURE:
                if len(head) < 24 or head[12:16] != b'IHDR':
                    raise ReferKittiFormatError(f'{path}: truncated PNG (no IHDR header)')
                size = (int.from_bytes(head[16:20], 'big'), int.from_bytes(head[20:24], 'big'))
                end_marker = _PNG_END
            else:
                from PIL import Image
                f.seek(0)
                with Image.open(f) as img:
                    size = tuple(img.size)
                    fmt = img.format
                end_marker = b'\xff\xd9' if fmt == 'JPEG' else None
            if check_complete and end_marker is not None:
                f.seek(0, os.SEEK_END)
                length = f.tell()
                f.seek(max(0, length - 4096))
                tail = f.read()
                # PNG: IEND is the last chunk. JPEG: the EOI marker, possibly followed by other
                # data; FF D9 cannot occur inside entropy-coded data (FF is stuffed there), so a
                # file cut in its scan data has none near its end
                complete = (tail.endswith(end_marker) if end_marker == _PNG_END
                            else end_marker in tail)
                if not complete:
                    kind = 'PNG' if end_marker == _PNG_END else 'JPEG'
                    raise ReferKittiFormatError(
                        f'{path}: truncated {kind} ({length} bytes, the file does not end with '
                        f'its {"IEND chunk" if kind == "PNG" else "end-of-image marker"}); '
                        'copy or extract the frame again')
    except ReferKittiFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - re-raised with the file name
        raise ReferKittiFormatError(f'{path}: cannot read image ({exc})') from exc
    if size[0] <= 0 or size[1] <= 0:
        raise ReferKittiFormatError(f'{path}: image size {size[0]}x{size[1]} is empty')
    return size


def check_frame_sizes(img_paths: Sequence[str]) -> Tuple[int, int]:
    """The common ``(width, height)`` of the frames of one video, read from each file's header
    (:func:`image_header_size`: no decoding, the end of each file checked for truncation).

    Labels are normalised by the image size, so one video must have one size.

    Raises:
        ReferKittiFormatError: a frame is unreadable or truncated, or its size differs from the
            size most frames have (the message names the file, its size and the others').
    """
    sizes = [image_header_size(p) for p in img_paths]
    counts: Dict[Tuple[int, int], int] = {}
    for size in sizes:
        counts[size] = counts.get(size, 0) + 1
    common = max(counts, key=lambda s: (counts[s], -sizes.index(s)))
    for path, size in zip(img_paths, sizes):
        if size != common:
            raise ReferKittiFormatError(
                f'{path}: frame of size {size[0]}x{size[1]}, but {counts[common]} of the '
                f'{len(sizes)} frames of this video are {common[0]}x{common[1]}; a video must '
                'have one frame size (labels are normalised by it)')
    return common


def _read_text(path: str) -> str:
    """The UTF-8 text of ``path``; a file that is not UTF-8 is an error naming it."""
    try:
        with open(path, encoding='utf-8') as f:
            return f.read()
    except UnicodeDecodeError as exc:
        raise ReferKittiFormatError(f'{path}: not a UTF-8 text file (byte {exc.start}: '
                                    f'{exc.reason})') from exc


#: Normalised label coordinates (``x``, ``y``, ``x + w``, ``y + h``) outside
#: ``[-NORMALISED_SLACK, 1 + NORMALISED_SLACK]`` are taken for pixel values: a box may stick out
#: of the image a little, never by half an image.
NORMALISED_SLACK = 0.5


def parse_label_file(path: str, frame: int, img_size: Tuple[int, int]) -> np.ndarray:
    """Read one ``labels_with_ids`` file.

    Returns:
        float array of shape (K, 7): ``frame, id, cls, x1, y1, x2, y2`` in pixels (columns
        :data:`~ikun_mm.structures.GT_ROW`).

    Raises:
        ReferKittiFormatError: naming ``path:line``: a wrong number of fields, a non-numeric,
            non-finite or non-integer class/id, a box without positive size, an id twice in the
            frame, or coordinates that are not normalised by the image size (pixels).
    """
    width, height = img_size
    rows = []
    seen = set()
    for lineno, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        where = f'{path}:{lineno}'
        if len(parts) != 6:
            raise ReferKittiFormatError(
                f'{where}: expected 6 fields "<cls> <track_id> <x1> <y1> <w> <h>", '
                f'got {len(parts)}: {line.strip()!r}')
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise ReferKittiFormatError(f'{where}: non-numeric field in {line.strip()!r}')
        if not all(np.isfinite(vals[:2])) or any(v != int(v) for v in vals[:2]):
            raise ReferKittiFormatError(f'{where}: class and track id must be integers, got '
                                        f'{parts[0]!r} {parts[1]!r}')
        cls, tid = int(vals[0]), int(vals[1])
        x, y, w, h = vals[2:]
        if not all(np.isfinite([x, y, w, h])) or w <= 0 or h <= 0:
            raise ReferKittiFormatError(f'{where}: box must have finite values and positive '
                                        f'size, got x={x} y={y} w={w} h={h}')
        lo, hi = -NORMALISED_SLACK, 1 + NORMALISED_SLACK
        if not all(lo <= v <= hi for v in (x, y, x + w, y + h)):
            raise ReferKittiFormatError(
                f'{where}: box x={x:g} y={y:g} w={w:g} h={h:g} is not normalised by the image '
                f'size {width}x{height} (coordinates are fractions of the width and height, '
                'between 0 and 1); these look like pixels')
        if tid in seen:
            raise ReferKittiFormatError(f'{where}: track id {tid} appears twice in one frame')
        seen.add(tid)
        rows.append([frame, tid, cls, x, y, w, h])
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, GT_ROW.width)
    rows[:, GT_ROW.box] = normalized_to_pixels(xywh_to_xyxy(rows[:, GT_ROW.box]), img_size)
    return rows


def load_video_annotation(data_root: str, video: str) -> VideoAnnotation:
    """Read the frames and per-frame labels of one video (see module docstring for the layout).

    Every frame's size is read from its header (no decoding) and must be the same
    (:func:`check_frame_sizes`); truncated frames, duplicate frame files and labels that are not
    normalised are errors naming the file.
    """
    img_dir = osp.join(data_root, IMAGE_DIR, video)
    label_dir = osp.join(data_root, LABEL_DIR, video)
    for folder in (img_dir, label_dir):
        if not osp.isdir(folder):
            raise ReferKittiFormatError(f'{folder}: folder of video {video} does not exist')
    images = list_frame_files(img_dir, IMAGE_EXTS)
    if not images:
        raise ReferKittiFormatError(f'{img_dir}: no frames named <frame:06d>.png/.jpg')
    num_frames = max(images) + 1
    missing = [f for f in range(num_frames) if f not in images]
    if missing:
        raise ReferKittiFormatError(f'{img_dir}: missing image for frame(s) {missing[:10]}')
    img_paths = [images[f] for f in range(num_frames)]
    img_size = check_frame_sizes(img_paths)
    labels = list_frame_files(label_dir, ('.txt', ))
    chunks = []
    for frame in sorted(labels):
        if frame not in images:
            raise ReferKittiFormatError(
                f'{labels[frame]}: labels for frame {frame} but image '
                f'{osp.join(img_dir, f"{frame:06d}.png")} is missing')
        chunks.append(parse_label_file(labels[frame], frame, img_size))
    boxes = np.concatenate(chunks) if chunks else GT_ROW.empty()
    order = np.lexsort((boxes[:, GT_ROW.id], boxes[:, GT_ROW.frame]))
    return VideoAnnotation(video, img_paths, img_size, boxes[order])


def _reject_constant(name: str):
    raise ValueError(f'{name} is not a JSON number')


def _read_json(path: str):
    """The JSON value of ``path`` (UTF-8, standard JSON: ``NaN``/``Infinity`` are rejected)."""
    text = _read_text(path)
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:  # JSONDecodeError, or a NaN/Infinity constant
        raise ReferKittiFormatError(f'{path}: invalid JSON ({exc})') from exc


def _as_int(value) -> int:
    """A JSON integer (``3``, ``3.0``, ``"3"``) as int; ``ValueError`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(value)
    number = float(value)
    if not np.isfinite(number) or number != int(number):
        raise ValueError(value)
    return int(number)


def parse_expression_file(path: str, video: str,
                          annotation: Optional[VideoAnnotation] = None) -> Expression:
    """Read one expression JSON and, given the video's labels, check that every referred id
    exists in the labels of its frame.

    Raises:
        ReferKittiFormatError: naming ``path`` (and the key): not UTF-8, invalid JSON (``NaN``
            and ``Infinity`` included), no ``label`` object, a frame or id that is not an
            integer, an ``ignore`` that is not a list, or an id absent from the labels.
    """
    data = _read_json(path)
    if not isinstance(data, dict) or 'label' not in data:
        raise ReferKittiFormatError(f'{path}: expected an object with a "label" field')
    sentence = data.get('sentence')
    if not isinstance(sentence, str) or not sentence.strip():
        sentence = osp.splitext(osp.basename(path))[0].replace('-', ' ')
    if not isinstance(data['label'], dict):
        raise ReferKittiFormatError(f'{path}: "label" must map frame -> list of track ids')
    ignore = data.get('ignore', [])
    if ignore is None:
        ignore = []
    if not isinstance(ignore, list):
        raise ReferKittiFormatError(f'{path}: "ignore" must be a list, got '
                                    f'{type(ignore).__name__} {ignore!r}')
    known = None
    if annotation is not None:
        known = {}
        for frame, tid in annotation.boxes[:, :2].astype(int):
            known.setdefault(int(frame), set()).add(int(tid))
    label = {}
    for key, ids in data['label'].items():
        try:
            if not isinstance(ids, list):
                raise ValueError(ids)
            frame = _as_int(key)
            ids = [_as_int(i) for i in ids]
            if frame < 0:
                raise ValueError(key)
        except (TypeError, ValueError, OverflowError):
            raise ReferKittiFormatError(f'{path}: label entry {key!r}: {ids!r} is not '
                                        '"<frame>": [track ids] (integers)')
        if known is not None:
            absent = sorted(set(ids) - known.get(frame, set()))
            if absent:
                raise ReferKittiFormatError(
                    f'{path}: track id(s) {absent} at frame {frame} are absent from the labels '
                    f'of video {video}')
        if ids:
            label[frame] = sorted(set(ids))
    return Expression(video=video, sentence=sentence.strip(), file=path, label=label,
                      ignore=list(ignore))


def load_expressions(data_root: str, video: str,
                     annotation: Optional[VideoAnnotation] = None) -> List[Expression]:
    """All expressions of one video, sorted by sentence.

    Raises:
        ReferKittiFormatError: the video's expression folder is missing or holds no ``.json``
            file (a video of a split needs at least one expression), or a file is malformed.
    """
    folder = osp.join(data_root, EXPRESSION_DIR, video)
    if not osp.isdir(folder):
        raise ReferKittiFormatError(f'{folder}: expression folder of video {video} does not exist')
    files = sorted(n for n in os.listdir(folder) if n.endswith('.json'))
    if not files:
        raise ReferKittiFormatError(f'{folder}: video {video} has no expression (no .json file '
                                    'in its expression folder)')
    exprs = [parse_expression_file(osp.join(folder, n), video, annotation) for n in files]
    return sorted(exprs, key=lambda e: e.sentence)


def read_split_file(split_file: str) -> Dict[str, List[str]]:
    """``{split: [video names]}`` of a ``split.json``.

    Raises:
        ReferKittiFormatError: naming the file (and key): not UTF-8, invalid JSON, not an object
            of lists of video names.
    """
    splits = _read_json(split_file)
    if not isinstance(splits, dict):
        raise ReferKittiFormatError(f'{split_file}: expected an object {{"train": [videos], '
                                    f'"test": [videos]}}, got {type(splits).__name__}')
    for name, videos in splits.items():
        if not isinstance(videos, list) or not all(isinstance(v, (str, int)) and
                                                   not isinstance(v, bool) for v in videos):
            raise ReferKittiFormatError(f'{split_file}: split {name!r} must be a list of video '
                                        f'names, got {videos!r}')
    return {name: [str(v) for v in videos] for name, videos in splits.items()}


def resolve_videos(data_root: str, split) -> List[str]:
    """Video names for ``split``: a list of names is returned as is; ``'train'``/``'test'``
    reads ``data_root/split.json`` and falls back to the Refer-KITTI paper split."""
    if isinstance(split, (list, tuple)):
        return [str(v) for v in split]
    split_file = osp.join(data_root, SPLIT_FILE)
    if osp.isfile(split_file):
        splits = read_split_file(split_file)
        if split not in splits:
            raise ReferKittiFormatError(f'{split_file}: has no split {split!r} '
                                        f'(has {sorted(splits)})')
        return splits[split]
    if split not in REFER_KITTI_SPLIT:
        raise ReferKittiFormatError(f'unknown split {split!r}: give "train", "test" or a list '
                                    f'of video names ({split_file} does not exist)')
    return list(REFER_KITTI_SPLIT[split])


def load_split(data_root: str, split, exclude_sentences: Sequence[str] = ()
               ) -> List[Tuple[str, VideoAnnotation, List[Expression]]]:
    """``(video, annotation, expressions)`` of every video of ``split`` (see
    :func:`resolve_videos`), dropping expressions whose sentence contains any of
    ``exclude_sentences``.

    A video without expression files is an error naming it (:func:`load_expressions`); a video
    whose expressions are all excluded is kept, with a warning naming it (it adds no
    (video, expression) sequence to the evaluation).
    """
    out = []
    for video in resolve_videos(data_root, split):
        ann = load_video_annotation(data_root, video)
        exprs = [e for e in load_expressions(data_root, video, ann)
                 if not any(s in e.sentence for s in exclude_sentences)]
        if not exprs:
            warnings.warn(f'{osp.join(data_root, EXPRESSION_DIR, video)}: every expression of '
                          f'video {video} is excluded by exclude_sentences='
                          f'{list(exclude_sentences)}; the video is not evaluated',
                          stacklevel=2)
        out.append((video, ann, exprs))
    return out


def load_mot_rows(path: str, frame_base: int = 1, min_fields: int = 6,
                  unique_ids: bool = False) -> np.ndarray:
    """Read a MOTChallenge file ``frame,id,x,y,w,h[,score[,cls,...]]`` (comma or space
    separated; columns after the 8th are ignored; blank lines are skipped).

    Args:
        path: the file.
        frame_base: the frame number of image 0 in the file: 1 for MOTChallenge files (frame 1
            is image 0), 0 for files whose frame column is the 0-based image index (the
            NeuralSORT track files released with iKUN).
        min_fields: fewest fields a line must have (6 for tracks, 7 for detections, which need
            a score).
        unique_ids: tracks: an id must be a non-negative integer and appear at most once per
            frame (detections carry id -1 on every line).

    Returns:
        float array of shape (N, 9), columns :data:`~ikun_mm.structures.MOT_FILE_ROW`:
        ``frame (0-based image index), id, x1, y1, x2, y2, score, cls, line`` (score 1 when the
        file has none, cls -1 when absent, line: the 1-based line of the file).

    Raises:
        ReferKittiFormatError: naming ``path:line`` and the problem, for a non-numeric field,
            too few fields, a non-finite value, a box without positive size, a frame that is
            not an integer >= ``frame_base`` and, with ``unique_ids``, a bad or repeated id.
    """
    rows = []
    first_line = {}
    for lineno, line in enumerate(_read_text(path).splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = line.replace(',', ' ').split()
        where = f'{path}:{lineno}'
        if len(parts) < min_fields:
            names = 'frame,id,x,y,w,h' + (',score' if min_fields > 6 else '')
            raise ReferKittiFormatError(f'{where}: expected at least {min_fields} fields '
                                        f'"{names}", got {len(parts)}: {line!r}')
        try:
            vals = [float(p) for p in parts[:8]]
        except ValueError:
            raise ReferKittiFormatError(f'{where}: non-numeric field in {line!r}')
        frame, tid, x, y, w, h = vals[:6]
        score = vals[6] if len(vals) > 6 else 1.0
        cls = vals[7] if len(vals) > 7 else -1
        if not np.isfinite(frame) or frame < frame_base or frame != int(frame):
            raise ReferKittiFormatError(
                f'{where}: frame must be a {frame_base}-based integer (>= {frame_base}), '
                f'got {frame:g}')
        if not all(np.isfinite([tid, x, y, w, h, score, cls])) or w <= 0 or h <= 0:
            raise ReferKittiFormatError(f'{where}: values must be finite and the box of '
                                        f'positive size, got {line!r}')
        image = int(frame) - frame_base
        if unique_ids:
            if tid < 0 or tid != int(tid):
                raise ReferKittiFormatError(
                    f'{where}: track id must be a non-negative integer, got {tid:g}')
            key = (image, int(tid))
            if key in first_line:
                raise ReferKittiFormatError(
                    f'{where}: id {int(tid)} appears twice in frame {int(frame)} (first at '
                    f'line {first_line[key]})')
            first_line[key] = lineno
        rows.append([image, tid, x, y, w, h, score, cls, lineno])
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, MOT_FILE_ROW.width)
    rows[:, MOT_FILE_ROW.box] = xywh_to_xyxy(rows[:, MOT_FILE_ROW.box])
    return rows


#: Without a known frame count, a video's length is read from its detection file (the last
#: frame with a detection); a gap of more than this many frames without any detection before
#: the last frames is taken for a typo'd frame number (it would make the tracker step through
#: every empty frame) rather than a real video.
MAX_FRAME_GAP = 1000


def check_mot_rows_in_video(path: str, rows: np.ndarray, num_frames: Optional[int] = None,
                            img_size: Optional[Tuple[int, int]] = None,
                            size_source: str = '') -> None:
    """Check rows of :func:`load_mot_rows` against the video they are for.

    Args:
        path: the file the rows were read from (named in the errors).
        rows: array (N, 9), columns :data:`~ikun_mm.structures.MOT_FILE_ROW`.
        num_frames: frames of the video; a row of a later frame is an error (a detection file
            of a longer video, or a typo'd frame number).
        img_size: ``(width, height)``; a box lying wholly outside the image is an error (pixel
            boxes for another image size, or a swapped width and height).
        size_source: where ``img_size`` came from, for the message (e.g. ``'--img-size'``).

    Raises:
        ReferKittiFormatError: naming ``path:line`` of the first bad row and what is wrong.
    """
    col = MOT_FILE_ROW
    rows = np.asarray(rows, np.float64).reshape(-1, col.width)
    if num_frames is not None and len(rows):
        late = rows[:, col.frame] >= num_frames
        if late.any():
            row = rows[np.argmax(late)]
            raise ReferKittiFormatError(
                f'{path}:{int(row[col.line])}: image index {int(row[col.frame])} (0-based) is '
                f'beyond the {num_frames} frames of the video ({int(late.sum())} such rows; last '
                f'image index {int(rows[:, col.frame].max())}): a typo in the frame column, or a '
                'file of another (longer) video')
    if img_size is not None and len(rows):
        width, height = img_size
        outside = ((rows[:, col.x1] >= width) | (rows[:, col.y1] >= height) |
                   (rows[:, col.x2] <= 0) | (rows[:, col.y2] <= 0))
        if outside.any():
            row = rows[np.argmax(outside)]
            x1, y1, x2, y2 = row[col.box]
            raise ReferKittiFormatError(
                f'{path}:{int(row[col.line])}: box x1={x1:g} y1={y1:g} x2={x2:g} y2={y2:g} lies '
                f'wholly outside the {width}x{height} image'
                f'{f" ({size_source})" if size_source else ""}; {int(outside.sum())} of '
                f'{len(rows)} boxes do. Are width and height swapped, or is the file for '
                'frames of another size?')


def frames_in_file(path: str, rows: np.ndarray, max_gap: int = MAX_FRAME_GAP) -> int:
    """The frame count of a video read from its MOT rows alone (1 + the last image index).

    Raises:
        ReferKittiFormatError: a gap of more than ``max_gap`` frames without any row precedes
            some rows (naming ``path:line`` of the first row after the gap): most likely a typo
            in the frame column; give the frame count explicitly.
    """
    rows = np.asarray(rows, np.float64).reshape(-1, MOT_FILE_ROW.width)
    if not len(rows):
        return 0
    frames = np.unique(rows[:, MOT_FILE_ROW.frame])
    gaps = np.diff(np.concatenate([[-1], frames])) - 1
    if (gaps > max_gap).any():
        k = int(np.argmax(gaps > max_gap))
        row = rows[np.argmax(rows[:, MOT_FILE_ROW.frame] == frames[k])]
        before = f'image {int(frames[k - 1])}' if k else 'the start of the video'
        raise ReferKittiFormatError(
            f'{path}:{int(row[MOT_FILE_ROW.line])}: image index {int(frames[k])} (0-based) comes '
            f'{int(gaps[k])} frames without any row after {before} (more than {max_gap}): a typo '
            'in the frame column? Give the frame count of the video (--num-frames) to use the '
            'file as it is')
    return int(frames[-1]) + 1


def load_detections(path: str) -> np.ndarray:
    """Read a MOTChallenge detection file ``frame,id,x,y,w,h,score[,cls,...]`` with
    :func:`load_mot_rows` (the same checks and error messages).

    Frames are 1-based in the file (MOTChallenge); the returned frames are 0-based image indices.

    Returns:
        float array of shape (N, 7), columns :data:`~ikun_mm.structures.DET_ROW`:
        ``frame, x1, y1, x2, y2, score, cls`` (cls = -1 when absent).
    """
    return MOT_FILE_ROW.to(DET_ROW, load_mot_rows(path, frame_base=1, min_fields=7))


#: Frame conventions of the per-expression evaluation: which image's boxes the ground truth holds
#: at each MOT frame (:func:`expression_gt_rows`) and at which MOT frame the prediction of an
#: image is written (:func:`prediction_mot_rows`).
FRAME_CONVENTIONS = ('corrected', 'legacy', 'ikun')


def _check_convention(convention: str) -> None:
    if convention not in FRAME_CONVENTIONS:
        raise ValueError(f'convention must be one of {FRAME_CONVENTIONS}, got {convention!r}')


def expression_gt_rows(expr: Expression, annotation: VideoAnnotation,
                       convention: str = 'corrected') -> np.ndarray:
    """MOTChallenge ground truth of one expression: the boxes of the referred objects.

    The GT at MOT frame ``f + 1`` lists the ids of ``label[f]``; the conventions differ in which
    image's boxes are written there (and :func:`prediction_mot_rows` says where predictions go):

    * ``'corrected'`` (default, the convention of the later RMOT literature): MOT frame
      ``f + 1`` holds the boxes of image ``f`` for the ids in ``label[f]``; predictions of image
      ``f`` are written at MOT frame ``f + 1``. GT and predictions of one MOT frame come from
      the same image and the same label entry.
    * ``'legacy'`` (the original TransRMOT/iKUN GT writer, predictions as in ``corrected``):
      MOT frame ``f + 1`` holds the boxes of image ``f + 1`` for the ids in ``label[f]``: the GT
      is one image ahead of the predictions, and ids absent from image ``f + 1`` are dropped.
    * ``'ikun'`` (the official iKUN test: GT of the legacy writer, predictions written at the
      MOT frame equal to their 0-based image index, images 0 and N-1 dropped): MOT frame ``k``
      holds GT and predictions of image ``k``, the GT ids being those of ``label[k - 1]``.

    Worked example (also in :func:`prediction_mot_rows`): a video of N = 4 images, an object
    with id 3 referred at frames 0 and 1 (``label = {0: [3], 1: [3]}``), at x1 = 10 in image 0,
    12 in image 1, 14 in image 2 and 16 in image 3. The GT rows (``frame,id,x1``) are::

        corrected   1,3,10   2,3,12
        legacy      1,3,12   2,3,14
        ikun        1,3,12   2,3,14     (same as legacy)

    Returns:
        float array of shape (N, 6), columns :data:`~ikun_mm.structures.MOT_GT_ROW`:
        ``frame (1-based), id, x, y, w, h``, sorted by frame, id.
    """
    _check_convention(convention)
    shift = 0 if convention == 'corrected' else 1
    boxes = annotation.boxes
    index = {(int(f), int(i)): row
             for f, i, row in zip(boxes[:, GT_ROW.frame], boxes[:, GT_ROW.id], boxes)}
    rows = []
    for frame in sorted(expr.label):
        for tid in expr.label[frame]:
            row = index.get((frame + shift, tid))
            if row is None:
                continue  # legacy/ikun only: the id is absent from the next image
            rows.append([frame + 1, tid, *row[GT_ROW.box]])
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, MOT_GT_ROW.width)
    rows[:, MOT_GT_ROW.box] = xyxy_to_xywh(rows[:, MOT_GT_ROW.box])
    return rows


def prediction_mot_rows(rows: np.ndarray, convention: str = 'corrected',
                        num_frames: Optional[int] = None) -> np.ndarray:
    """Predicted boxes of a video -> MOTChallenge rows, in a frame convention.

    * ``'corrected'`` and ``'legacy'``: the boxes of image ``f`` (0-based) are written at MOT
      frame ``f + 1``.
    * ``'ikun'``: the boxes of image ``f`` are written at MOT frame ``f`` (the official iKUN
      test writes the tracker file's frame column, which is the 0-based image index), and only
      images ``1 .. num_frames - 2`` are kept (it keeps ``MIN_FRAME < frame < MAX_FRAME`` with
      ``(MIN_FRAME, MAX_FRAME) = (0, N - 1)``), so images 0 and N-1 carry no prediction.

    Worked example (the one of :func:`expression_gt_rows`: N = 4, id 3 at x1 = 10, 12, 14, 16
    in images 0..3), predicted in every image; the rows (``frame,id,x1``) written are::

        corrected   1,3,10   2,3,12   3,3,14   4,3,16
        legacy      1,3,10   2,3,12   3,3,14   4,3,16
        ikun                 1,3,12   2,3,14

    Against the GT of :func:`expression_gt_rows`, ``corrected`` and ``ikun`` pair each GT box
    with the prediction of the same image, ``legacy`` with the prediction of the image before.

    Args:
        rows: array (N, 6+): ``frame (0-based image index), id, x1, y1, x2, y2[, score, ...]``
            (the first columns of :data:`~ikun_mm.structures.REFERRED_ROW` and
            :data:`~ikun_mm.structures.TRACK_ROW`).
        convention: one of :data:`FRAME_CONVENTIONS`.
        num_frames: number of images of the video; needed by ``'ikun'``.

    Returns:
        float array (M, 6+): ``frame (1-based MOT frame), id, x, y, w, h[, score, ...]`` (extra
        columns kept; :data:`~ikun_mm.structures.MOT_PRED_ROW` for referred rows), in the order
        of ``rows``.
    """
    _check_convention(convention)
    rows = np.asarray(rows, dtype=np.float64)
    if rows.size == 0:
        return rows.reshape(0, max(rows.shape[-1] if rows.ndim == 2 else 6, 6))
    if rows.ndim != 2 or rows.shape[1] < 6:
        raise ValueError(f'prediction_mot_rows: rows must have shape (N, 6+) '
                         f'(frame, id, x1, y1, x2, y2), got {rows.shape}')
    out = rows.copy()
    out[:, MOT_GT_ROW.box] = xyxy_to_xywh(rows[:, REFERRED_ROW.box])
    if convention != 'ikun':
        out[:, MOT_GT_ROW.frame] += 1
        return out
    if num_frames is None:
        raise ValueError("prediction_mot_rows: the 'ikun' convention needs num_frames (it drops "
                         'the last image)')
    frames = rows[:, REFERRED_ROW.frame]
    keep = (frames >= 1) & (frames <= num_frames - 2)
    return out[keep]


def format_mot_rows(rows: np.ndarray) -> str:
    """``frame,id,x,y,w,h`` rows (shape (N, 6+)) -> MOTChallenge text (``...,1,1,1`` suffix)."""
    return ''.join(f'{int(r[0])},{int(r[1])},{r[2]:.2f},{r[3]:.2f},{r[4]:.2f},{r[5]:.2f},1,1,1\n'
                   for r in rows)


def write_gt_templates(data_root: str, video: str, convention: str = 'corrected',
                       out_dir: Optional[str] = None) -> int:
    """Write ``<out_dir>/<video>/<sentence-with-dashes>/gt.txt`` for every expression of a video
    (``out_dir`` defaults to ``data_root/gt_template``). Returns the number of files written."""
    ann = load_video_annotation(data_root, video)
    out_dir = out_dir or osp.join(data_root, 'gt_template')
    exprs = load_expressions(data_root, video, ann)
    for expr in exprs:
        name = osp.splitext(osp.basename(expr.file))[0]
        path = osp.join(out_dir, video, name, 'gt.txt')
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(format_mot_rows(expression_gt_rows(expr, ann, convention)))
    return len(exprs)


def merge_synonymous_expressions(expressions: Sequence['Expression'],
                                 synonyms: Synonyms) -> List['Expression']:
    """Merge the expressions of ONE video that share a canonical text, as the official iKUN
    training data does: one :class:`Expression` per canonical
    text, whose label is the union of the merged ones' labels (an object is referred at a frame
    when any synonymous expression refers to it there). ``file`` is the first merged file (in
    sentence order) and ``ignore`` the concatenation. ``synonyms=None`` returns the input.

    Returns:
        the merged expressions sorted by (canonical) sentence.
    """
    if resolve_synonyms(synonyms) is None:
        return list(expressions)
    videos = {e.video for e in expressions}
    if len(videos) > 1:
        raise ValueError(f'merge the expressions of one video at a time, got videos '
                         f'{sorted(videos)}')
    merged: Dict[str, Expression] = {}
    for expr in sorted(expressions, key=lambda e: e.sentence):
        text = canonical_sentence(expr.sentence, synonyms)
        into = merged.get(text)
        if into is None:
            merged[text] = Expression(video=expr.video, sentence=text, file=expr.file,
                                      label={f: list(ids) for f, ids in expr.label.items()},
                                      ignore=list(expr.ignore))
            continue
        for frame, ids in expr.label.items():
            into.label[frame] = sorted(set(into.label.get(frame, [])) | set(ids))
        into.ignore.extend(expr.ignore)
    for expr in merged.values():
        expr.label = dict(sorted(expr.label.items()))
    return [merged[k] for k in sorted(merged)]
