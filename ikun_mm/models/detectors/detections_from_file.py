"""``DetectionsFromFile``: a detector-free "detector" that replays cached detections."""
import os.path as osp
import warnings
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.structures import InstanceData

from ikun_mm.datasets.refer_kitti_io import (ReferKittiFormatError, check_mot_rows_in_video,
                                             frames_in_file, load_mot_rows)
from ikun_mm.registry import MODELS
from ikun_mm.structures import FRAME_DET_ROW, MOT_FILE_ROW


@MODELS.register_module()
class DetectionsFromFile(BaseModel):
    """Feeds detections read from MOTChallenge files (``frame,id,x,y,w,h,score[,cls,...]``,
    1-based frames) to a tracker, in place of a detector.

    Files are read with :func:`ikun_mm.datasets.refer_kitti_io.load_detections`, so a malformed
    line raises ``ReferKittiFormatError`` naming the file and line. The first time a file is
    used for a video, its rows are checked against the video the frames' metainfo describes
    (:func:`~ikun_mm.datasets.refer_kitti_io.check_mot_rows_in_video`), never silently:

    * a box wholly outside the ``img_shape`` image (boxes for another image size) is a
      ``ReferKittiFormatError`` naming the file and line;
    * rows beyond the video's ``num_frames`` (a typo'd frame number, or the file of a longer
      video; ``tools/test.py`` tracks every frame on disk) are skipped with a warning naming
      the file, the first such line and their count (``beyond_video='warn'``, default), or are
      an error (``'error'``), or are skipped quietly (``'skip'``: the frames tracked are the
      first ones of a longer video on purpose, as with the demo's ``--max-frames``).
      ``tools/track_detections.py`` makes them an error.

    Args:
        det_file: one detection file, used for every frame asked for (one video).
        det_dir: folder of ``<video>.txt`` files; the video of a frame is its metainfo ``video``
            or else the name of its image's folder (``img_path``).
        score_thr: detections scoring below are dropped.
        default_label: label of detections whose file has no class column (``cls = -1``).
        class_map: optional ``{class id in the file: label}``; other classes are dropped.
        beyond_video: rows of frames beyond the video's ``num_frames``: ``'warn'``
            (default), ``'error'`` or ``'skip'`` (see above).
    """

    def __init__(self,
                 det_file: Optional[str] = None,
                 det_dir: Optional[str] = None,
                 score_thr: float = 0.,
                 default_label: int = 0,
                 class_map: Optional[Dict[int, int]] = None,
                 beyond_video: str = 'warn',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if (det_file is None) == (det_dir is None):
            raise ValueError('DetectionsFromFile: give exactly one of det_file and det_dir, got '
                             f'det_file={det_file!r}, det_dir={det_dir!r}')
        self.det_file, self.det_dir = det_file, det_dir
        self.score_thr = score_thr
        if beyond_video not in ('warn', 'error', 'skip'):
            raise ValueError("DetectionsFromFile: beyond_video must be 'warn', 'error' or "
                             f"'skip', got {beyond_video!r}")
        self.beyond_video = beyond_video
        self.default_label = default_label
        self.class_map = None if class_map is None else {int(k): int(v)
                                                         for k, v in class_map.items()}
        self._cache: Dict[Tuple[str, float], Tuple[np.ndarray, Dict[int, np.ndarray]]] = {}
        self._checked: set = set()

    def file_for(self, metainfo: dict) -> str:
        """Detection file of the frame described by ``metainfo``."""
        if self.det_file is not None:
            return self.det_file
        video = metainfo.get('video')
        if video is None and metainfo.get('img_path'):
            video = osp.basename(osp.dirname(metainfo['img_path']))
        if video is None:
            raise KeyError('DetectionsFromFile: with det_dir, a frame needs metainfo "video" or '
                           '"img_path"')
        return osp.join(self.det_dir, f'{video}.txt')

    def _load(self, path: str) -> Tuple[np.ndarray, Dict[int, np.ndarray]]:
        """The file's rows (array (N, 9), :data:`~ikun_mm.structures.MOT_FILE_ROW`) and its
        detections by frame (:data:`~ikun_mm.structures.FRAME_DET_ROW`)."""
        if not osp.isfile(path):
            raise FileNotFoundError(f'DetectionsFromFile: detection file {path} does not exist')
        key = (path, osp.getmtime(path))
        if key not in self._cache:
            rows = load_mot_rows(path, frame_base=1, min_fields=7)
            labels = rows[:, MOT_FILE_ROW.cls].copy()
            labels[labels < 0] = self.default_label
            keep = rows[:, MOT_FILE_ROW.score] >= self.score_thr
            if self.class_map is not None:
                keep &= np.isin(labels, list(self.class_map))
                labels = np.array([self.class_map.get(int(c), -1) for c in labels])
            frames = rows[keep, MOT_FILE_ROW.frame]
            dets = MOT_FILE_ROW.to(FRAME_DET_ROW, rows[keep], label=labels[keep])
            self._cache = {key: (rows, {int(f): dets[frames == f] for f in np.unique(frames)})}
        return self._cache[key]

    def detections(self, path: str) -> Dict[int, np.ndarray]:
        """``{frame (0-based): array (K, 6) x1, y1, x2, y2, score, label}``
        (:data:`~ikun_mm.structures.FRAME_DET_ROW`) of one file."""
        return self._load(path)[1]

    def check_video(self, path: str, num_frames: Optional[int] = None,
                    img_size: Optional[Tuple[int, int]] = None,
                    size_source: str = '', beyond_video: Optional[str] = None) -> None:
        """Check the rows of ``path`` against a video of ``num_frames`` frames of ``img_size``
        ``(W, H)`` (see the class docstring); once per file, video length and size.
        ``beyond_video`` overrides the model's setting."""
        rows = self._load(path)[0]
        beyond_video = beyond_video or self.beyond_video
        key = (path, osp.getmtime(path), num_frames, img_size, beyond_video)
        if key in self._checked:
            return
        check_mot_rows_in_video(path, rows, None, img_size, size_source)
        if num_frames is not None and beyond_video != 'skip':
            try:
                check_mot_rows_in_video(path, rows, num_frames)
            except ReferKittiFormatError as exc:
                if beyond_video == 'error':
                    raise
                message = f'{exc}; these rows are skipped'
                warnings.warn(message, stacklevel=2)
                MMLogger.get_current_instance().warning(message)
        self._checked.add(key)

    def num_frames(self, path: str) -> int:
        """1 + the last frame index with a detection in ``path``.

        Raises:
            ReferKittiFormatError: a gap of more than
                :data:`~ikun_mm.datasets.refer_kitti_io.MAX_FRAME_GAP` frames without any
                detection (a typo'd frame number would make the tracker step through millions
                of empty frames); the message names the file and line.
        """
        return frames_in_file(path, self._load(path)[0])

    def predict(self, batch_inputs, batch_data_samples: List[DetDataSample],
                rescale: bool = True) -> List[DetDataSample]:
        """Set ``pred_instances`` (bboxes (K, 4) xyxy, scores (K,), labels (K,)) of each sample
        from its ``frame_id`` (0-based); inputs are ignored."""
        for sample in batch_data_samples:
            frame = int(sample.metainfo['frame_id'])
            path = self.file_for(sample.metainfo)
            num_frames, shape = sample.metainfo.get('num_frames'), sample.metainfo.get('img_shape')
            self.check_video(path, None if num_frames is None else int(num_frames),
                             None if shape is None else (int(shape[1]), int(shape[0])))
            dets = self.detections(path).get(frame, FRAME_DET_ROW.empty())
            inst = InstanceData()
            inst.bboxes = torch.as_tensor(FRAME_DET_ROW.boxes(dets), dtype=torch.float32)
            inst.scores = torch.as_tensor(dets[:, FRAME_DET_ROW.score], dtype=torch.float32)
            inst.labels = torch.as_tensor(dets[:, FRAME_DET_ROW.label], dtype=torch.long)
            sample.pred_instances = inst
        return batch_data_samples

    def forward(self, inputs=None, data_samples=None, mode: str = 'predict'):
        if mode != 'predict':
            raise ValueError(f'DetectionsFromFile only predicts, got mode={mode!r}')
        return self.predict(inputs, data_samples)
