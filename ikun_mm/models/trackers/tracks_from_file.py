"""``TracksFromFile``: a "tracker" that replays the tracks of MOTChallenge result files.

iKUN scores the output of any tracker without retraining; this replays that output. In a
referring config the base tracker is swapped by one line::

    model.tracker = dict(type='TracksFromFile', track_dir='tracks/', frame_base=1)

and :class:`~.tracking_by_detection.TrackingByDetection` then runs no detector and reads no
pixels (``replays_tracks`` is True).

Two layouts of ``track_dir`` are read (``layout='auto'`` picks the one present, per video):

* ``'mot'``: ``<track_dir>/<video>.txt``, one MOTChallenge file per video, lines
  ``frame,id,x,y,w,h[,score[,cls,...]]`` (comma or space separated, columns after the 8th
  ignored; a missing score is 1; ``cls`` >= 0 is the label, else ``default_label``);
* ``'per_class'``: ``<track_dir>/<video>/<class>/predict.txt`` for every class of ``classes``
  (same columns), the layout of the NeuralSORT track files released with the official iKUN. As
  the official code reads them, the ids of each class after the first are offset by the largest
  id of the classes before it, so ids stay unique (car ids as read, pedestrian ids + the largest
  car id); the label of a row is the index of its class in ``classes`` (car 0, pedestrian 1).

Frame numbers: ``frame_base`` is the frame number of image 0 in the files. MOTChallenge files
count from 1 (``frame_base=1``, the default: frame 1 is image 0). The official iKUN code reads
the frame column of its NeuralSORT files as the 0-based image index (it opens
``<frame:06d>.png``), so those files need ``frame_base=0``.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import MMLogger
from mmengine.structures import InstanceData

from ikun_mm.datasets.refer_kitti_io import ReferKittiFormatError, load_mot_rows
from ikun_mm.registry import MODELS
from ikun_mm.structures import MOT_FILE_ROW, TRACK_ROW

#: Layouts of ``track_dir`` (see the module docstring).
TRACK_LAYOUTS = ('auto', 'mot', 'per_class')
#: File name of one class's tracks in the ``per_class`` layout.
PER_CLASS_FILE = 'predict.txt'

# (path, mtime in ns, size) of every file a video's tracks were read from
_Signature = Tuple[Tuple[str, int, int], ...]


def _signature(paths: Sequence[str]) -> _Signature:
    out = []
    for path in paths:
        st = os.stat(path)
        out.append((path, st.st_mtime_ns, st.st_size))
    return tuple(out)


def _where(path: str, line: float) -> str:
    return f'{path}:{int(line)}'


@MODELS.register_module()
class TracksFromFile:
    """Replays tracks read from files, frame by frame, through the mmdet tracker API.

    Args:
        track_dir: folder of the track files (layouts in the module docstring).
        layout: ``'auto'`` (default: ``<video>.txt`` if it exists, else the per-class folder),
            ``'mot'`` or ``'per_class'``.
        frame_base: frame number of image 0 in the files: 1 for MOTChallenge files (default),
            0 for the NeuralSORT files of the official iKUN.
        classes: class names, in label order; in the ``per_class`` layout, the sub-folders read.
        default_label: label of ``mot`` rows whose class column is absent or negative.

    Every file is read once per video (with the checks of
    :func:`~ikun_mm.datasets.refer_kitti_io.load_mot_rows`, plus unique ``(frame, id)``); a
    malformed line raises ``ReferKittiFormatError`` naming the file and line. A file with a
    frame beyond the video is an error naming the file, the line and the video length when the
    frame's metainfo carries ``num_frames`` (:func:`~.tracking_by_detection.track_video` sets
    it); without it, a warning says the length is unknown. The tracks are read again when a new
    video starts (frame 0) and never reused once a file changed (modification time or size).
    """

    #: Read by ``TrackingByDetection``: no detector runs and no pixels are read.
    replays_tracks = True

    def __init__(self,
                 track_dir: str,
                 layout: str = 'auto',
                 frame_base: int = 1,
                 classes: Sequence[str] = ('car', 'pedestrian'),
                 default_label: int = 0) -> None:
        if layout not in TRACK_LAYOUTS:
            raise ValueError(f'TracksFromFile: layout must be one of {TRACK_LAYOUTS}, got '
                             f'{layout!r}')
        if frame_base not in (0, 1):
            raise ValueError(f'TracksFromFile: frame_base must be 0 or 1, got {frame_base!r}')
        if not classes:
            raise ValueError('TracksFromFile: classes must name at least one class')
        self.track_dir = track_dir
        self.layout = layout
        self.frame_base = int(frame_base)
        self.classes = tuple(classes)
        self.default_label = int(default_label)
        self._video: Optional[str] = None
        self._signature: _Signature = ()
        self._frames: Dict[int, np.ndarray] = {}

    # -- files --------------------------------------------------------------------------------
    def mot_file(self, video: str) -> str:
        """``<track_dir>/<video>.txt`` (``mot`` layout)."""
        return osp.join(self.track_dir, f'{video}.txt')

    def class_files(self, video: str) -> List[str]:
        """``<track_dir>/<video>/<class>/predict.txt`` per class (``per_class`` layout)."""
        return [osp.join(self.track_dir, video, c, PER_CLASS_FILE) for c in self.classes]

    def files_for(self, video: str) -> Tuple[str, List[str]]:
        """The layout and the files the tracks of ``video`` are read from.

        Raises:
            FileNotFoundError: naming the folder and every file looked for, when the files of
                the configured layout (``auto``: of either layout) do not exist.
        """
        mot, per_class = self.mot_file(video), self.class_files(video)
        has_mot = osp.isfile(mot)
        has_class = [osp.isfile(p) for p in per_class]
        if self.layout == 'mot' or (self.layout == 'auto' and has_mot):
            if not has_mot:
                raise FileNotFoundError(f'TracksFromFile: no tracks of video {video!r} in '
                                        f'{self.track_dir}: {mot} does not exist (layout mot)')
            return 'mot', [mot]
        if all(has_class):
            return 'per_class', per_class
        if self.layout == 'per_class' or any(has_class):
            missing = [p for p, ok in zip(per_class, has_class) if not ok]
            raise FileNotFoundError(
                f'TracksFromFile: no tracks of video {video!r} in {self.track_dir}: the '
                f'per_class layout needs one file per class {list(self.classes)}; missing '
                f'{missing}')
        raise FileNotFoundError(
            f'TracksFromFile: no tracks of video {video!r} in {self.track_dir}: looked for '
            f'{mot} (layout mot) and {per_class} (layout per_class)')

    def read_video(self, video: str) -> Tuple[np.ndarray, np.ndarray, List[str]]:
        """Read all tracks of one video (no caching; see :meth:`tracks_at` for the cached
        per-frame access).

        Returns:
            rows: float array (N, 9), :data:`~ikun_mm.structures.MOT_FILE_ROW`: ``frame
                (0-based image index), id, x1, y1, x2, y2, score, cls, line`` (``cls``: the
                label; ``line``: 1-based line of the row in its file), in file order, the ids
                of the ``per_class`` layout already offset;
            sources: int array (N,): the file of row ``i`` is ``files[sources[i]]``;
            files: the files read (one per class in the ``per_class`` layout).
        """
        layout, files = self.files_for(video)
        if layout == 'mot':
            rows = load_mot_rows(files[0], self.frame_base, min_fields=6, unique_ids=True)
            rows[rows[:, MOT_FILE_ROW.cls] < 0, MOT_FILE_ROW.cls] = self.default_label
            return rows, np.zeros(len(rows), dtype=np.int64), files
        parts, sources, offset, prev = [], [], 0, None
        for label, path in enumerate(files):
            rows = load_mot_rows(path, self.frame_base, min_fields=6, unique_ids=True)
            ids = rows[:, MOT_FILE_ROW.id]  # a view: the offset is added in place
            if len(rows):
                ids += offset
                if prev is not None and ids.min() <= offset:
                    bad = rows[np.argmin(ids)]
                    raise ReferKittiFormatError(
                        f'{_where(path, bad[MOT_FILE_ROW.line])}: {self.classes[label]} id '
                        f'{int(bad[MOT_FILE_ROW.id] - offset)} + offset {int(offset)} (the largest '
                        f'id of the classes before, up to {prev}) collides with an id of {prev}; '
                        'ids of the per_class layout must start at 1')
                offset = ids.max()
                prev = self.classes[label]
            rows[:, MOT_FILE_ROW.cls] = label
            parts.append(rows)
            sources.append(np.full(len(rows), label, dtype=np.int64))
        return np.concatenate(parts), np.concatenate(sources), files

    def _load(self, video: str, num_frames: Optional[int]) -> None:
        rows, sources, files = self.read_video(video)
        signature = _signature(files)
        col = MOT_FILE_ROW
        if len(rows):
            last = int(np.argmax(rows[:, col.frame]))
            where = _where(files[sources[last]], rows[last, col.line])
            frame = int(rows[last, col.frame]) + self.frame_base
            if num_frames is not None and rows[last, col.frame] >= num_frames:
                raise ReferKittiFormatError(
                    f'{where}: frame {frame} is beyond video {video!r} of {num_frames} images '
                    f'(frames {self.frame_base}..{num_frames - 1 + self.frame_base} with '
                    f'frame_base={self.frame_base})')
            if num_frames is None:
                MMLogger.get_current_instance().warning(
                    f'TracksFromFile: the length of video {video!r} is unknown (no num_frames '
                    f'in the frame metainfo); its tracks reach frame {frame} ({where}) and '
                    'rows after the last frame fed are not replayed')
        order = np.lexsort((rows[:, col.id], rows[:, col.frame]))
        rows = rows[order]
        frames = rows[:, col.frame].astype(np.int64)
        cuts = np.flatnonzero(np.diff(frames)) + 1
        self._frames = {int(chunk[0, col.frame]): col.to(TRACK_ROW, chunk,
                                                           label=chunk[:, col.cls])
                        for chunk in np.split(rows, cuts) if len(chunk)}
        self._video, self._signature = video, signature

    def tracks_at(self, video: str, frame_id: int,
                  num_frames: Optional[int] = None) -> np.ndarray:
        """Tracks of one frame.

        Args:
            video: video name.
            frame_id: 0-based image index; 0 starts the video (its files are read again).
            num_frames: number of images of the video, when known (checked against the files).

        Returns:
            float array (K, 8), :data:`~ikun_mm.structures.TRACK_ROW`: ``frame, id, x1, y1, x2,
            y2, score, label``, sorted by id.
        """
        if frame_id == 0 or video != self._video:
            self._load(video, num_frames)
        else:
            now = _signature([s[0] for s in self._signature])
            if now != self._signature:
                changed = [a[0] for a, b in zip(self._signature, now) if a != b]
                raise RuntimeError(f'TracksFromFile: {changed} changed while video {video!r} '
                                   f'was replayed (at frame {frame_id}); run the video again')
        return self._frames.get(int(frame_id), TRACK_ROW.empty())

    # -- mmdet tracker API --------------------------------------------------------------------
    def track(self, model=None, img=None, data_sample=None, data_preprocessor=None,
              rescale: bool = True, **kwargs) -> InstanceData:
        """The tracks of the frame of ``data_sample`` (its metainfo ``frame_id``, 0-based, and
        ``video``, or else the folder of ``img_path``; ``num_frames`` or mmdet's
        ``video_length`` when known). The other
        arguments are those every mmdet tracker takes; they are ignored.

        Returns:
            InstanceData with ``bboxes`` (K, 4) x1, y1, x2, y2 in pixels, ``scores`` (K,),
            ``labels`` (K,) and ``instances_id`` (K,), sorted by id.
        """
        meta = data_sample.metainfo
        video = meta.get('video') or None
        if video is None and meta.get('img_path'):
            video = osp.basename(osp.dirname(meta['img_path']))
        if video is None:
            raise KeyError('TracksFromFile: a frame needs metainfo "video" or "img_path"')
        num_frames = meta.get('num_frames', meta.get('video_length'))  # mmdet: video_length
        rows = self.tracks_at(video, int(meta['frame_id']),
                              None if num_frames is None else int(num_frames))
        inst = InstanceData()
        inst.bboxes = torch.as_tensor(TRACK_ROW.boxes(rows), dtype=torch.float32).reshape(-1, 4)
        inst.scores = torch.as_tensor(rows[:, TRACK_ROW.score], dtype=torch.float32)
        inst.labels = torch.as_tensor(rows[:, TRACK_ROW.label], dtype=torch.long)
        inst.instances_id = torch.as_tensor(rows[:, TRACK_ROW.id], dtype=torch.long)
        return inst
