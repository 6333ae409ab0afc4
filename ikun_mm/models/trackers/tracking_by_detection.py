"""``TrackingByDetection``: any detector + any mmdet-API tracker, one frame at a time."""
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmdet.models.mot import BaseMOTModel
from mmdet.structures import DetDataSample, TrackDataSample
from mmengine.structures import InstanceData
from torch import Tensor

from ikun_mm.registry import MODELS
from ikun_mm.structures import TRACK_ROW
from .interpolation import check_interpolation, interpolate_tracks


@MODELS.register_module()
class TrackingByDetection(BaseMOTModel):
    """Detector -> tracker, where the tracker is swappable by one config line.

    Calls ``tracker.track(model=self, img=..., data_sample=..., data_preprocessor=...,
    rescale=...)`` with keyword arguments, which every mmdet 3.x tracker accepts (SORT/DeepSORT
    and StrongSORT read ``model``/``img``, ByteTrack and OC-SORT ignore them), and
    ``NeuralSORTTracker``. Optional modules mmdet's trackers look up on the model are attributes
    here: ``reid`` (appearance model for DeepSORT/StrongSORT/NeuralSORT, off when ``None``) and
    ``cmc`` (camera motion compensation for StrongSORT, off when ``None``).

    Offline post-processing is the model's, not the tracker's: ``interpolation=dict(max_gap=N)``
    fills gaps of up to N frames in every track of a whole video (:mod:`.interpolation`) after
    tracking, whichever tracker ran; ``None`` keeps the results online.

    A tracker that replays tracks (``TracksFromFile``, class attribute ``replays_tracks``)
    needs no detection: the detector is then not run (it may be ``None``, or the one a base
    config configured) and no pixels are read.

    Args:
        detector: detector config, e.g. ``dict(type='DetectionsFromFile', det_dir=...)`` or any
            mmdet detector; ``None`` only with a tracker that replays tracks.
        tracker: tracker config (``NeuralSORTTracker``, ``OCSORTTracker``, ``ByteTracker``,
            ``SORTTracker``, ``StrongSORTTracker``...).
        reid: optional ReID model config.
        interpolation: ``None`` (online) or ``dict(max_gap=N)`` (offline gap filling).
        cmc: optional camera motion compensation config (``CameraMotionCompensation``).
        data_preprocessor: data preprocessor config.
    """

    def __init__(self,
                 detector: Optional[dict],
                 tracker: dict,
                 reid: Optional[dict] = None,
                 cmc: Optional[dict] = None,
                 interpolation: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.interpolation = check_interpolation(interpolation, type(self).__name__)
        # trackers read mean/std of the input normalisation from the config (as mmdet's DeepSORT)
        self.preprocess_cfg = data_preprocessor
        from ikun_mm.registry import TASK_UTILS
        self.detector = MODELS.build(detector) if detector is not None else None
        self.reid = MODELS.build(reid) if reid is not None else None
        self.cmc = TASK_UTILS.build(cmc) if cmc is not None else None
        self.tracker = MODELS.build(tracker)
        if detector is None and not self.replays_tracks:
            raise ValueError(f'TrackingByDetection: detector=None needs a tracker that replays '
                             f'tracks (e.g. TracksFromFile), got {type(self.tracker).__name__}')
        if self.replays_tracks and self.detector is not None:
            from mmengine.logging import MMLogger
            MMLogger.get_current_instance().info(
                f'{type(self.tracker).__name__} replays tracks: the detector '
                f'({type(self.detector).__name__}) is not run')

    @property
    def with_cmc(self) -> bool:
        """Whether camera motion compensation is on (read by mmdet's StrongSORTTracker)."""
        return self.cmc is not None

    @property
    def replays_tracks(self) -> bool:
        """Whether the tracker replays tracks (``TracksFromFile``): no detector runs."""
        return bool(getattr(self.tracker, 'replays_tracks', False))

    @property
    def needs_pixels(self) -> bool:
        """Whether the detector or the tracker look at the frames (not so for cached
        detections without ReID, nor for replayed tracks)."""
        from ..detectors.detections_from_file import DetectionsFromFile
        if self.replays_tracks:
            return False
        return not isinstance(self.detector, DetectionsFromFile) or self.reid is not None

    def frame_tensor(self, path: str) -> Tensor:
        """Float tensor (1, 3, H, W) of one frame (BGR), through the detector's data
        preprocessor (a detector without one, such as ``DetectionsFromFile``, gives the pixels as
        read, 0..255; ``preprocess_cfg`` tells the trackers which normalisation it is)."""
        import mmcv
        img = mmcv.imread(path, channel_order='bgr')
        tensor = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        pre = getattr(self.detector, 'data_preprocessor', None)
        if pre is None:
            return tensor[None].float()
        out = pre(dict(inputs=[tensor]), False)['inputs']
        if isinstance(out, (list, tuple)):  # mmengine's BaseDataPreprocessor does not stack
            out = torch.stack(list(out))
        return out.float()

    def loss(self, inputs, data_samples, **kwargs):
        raise NotImplementedError('TrackingByDetection only tracks; train the detector, ReID '
                                  'or NKF with their own configs')

    @torch.no_grad()
    def track_frame(self, data_sample: DetDataSample, img: Optional[Tensor] = None,
                    rescale: bool = True) -> InstanceData:
        """Detect and track one frame (or replay its tracks).

        Args:
            data_sample: the frame; metainfo needs ``frame_id`` (0-based; 0 resets the tracker)
                and ``img_shape``/``ori_shape`` ((H, W)); ``video`` and ``num_frames`` are read
                by trackers that replay files.
            img: Tensor of shape (1, C, H, W) or None when neither the detector nor the tracker
                looks at pixels (detections from file, no ReID).

        Returns:
            InstanceData with ``bboxes``, ``scores``, ``labels``, ``instances_id``.
        """
        if self.replays_tracks:
            det = data_sample  # the tracker reads its tracks from the frame's metainfo
        else:
            det = self.detector.predict(img, [data_sample])[0]
        return self.tracker.track(model=self, img=img, data_sample=det,
                                  data_preprocessor=self.preprocess_cfg, rescale=rescale)

    def predict(self, inputs: Tensor, data_samples: List[TrackDataSample],
                rescale: bool = True, **kwargs) -> List[TrackDataSample]:
        """Track a video.

        Args:
            inputs: Tensor of shape (1, T, C, H, W).
            data_samples: one :class:`TrackDataSample` of T frames.

        Returns:
            the samples, each frame with ``pred_track_instances``.
        """
        if len(data_samples) != 1:
            raise ValueError(f'TrackingByDetection tracks one video at a time, got '
                             f'{len(data_samples)}')
        video = data_samples[0]
        for t in range(len(video)):
            frame = video[t]
            img = None if inputs is None else inputs[:, t].contiguous()
            frame.pred_track_instances = self.track_frame(frame, img, rescale)
        return data_samples


def track_results_array(frame_id: int, inst: InstanceData) -> np.ndarray:
    """Rows (K, 8) of one frame's tracking output, :data:`~ikun_mm.structures.TRACK_ROW`:
    ``frame, id, x1, y1, x2, y2, score, label``."""
    n = len(inst.instances_id)
    rows = np.empty((n, TRACK_ROW.width))
    rows[:, TRACK_ROW.frame] = frame_id
    rows[:, TRACK_ROW.id] = inst.instances_id.cpu().numpy()
    rows[:, TRACK_ROW.box] = inst.bboxes.cpu().numpy().reshape(n, 4)
    rows[:, TRACK_ROW.score] = inst.scores.cpu().numpy()
    rows[:, TRACK_ROW.label] = inst.labels.cpu().numpy()
    return rows


def track_video(model: TrackingByDetection, num_frames: int, img_size, video: str = '',
                progress: bool = False, img_paths: Optional[Sequence[str]] = None,
                postprocess: bool = True) -> np.ndarray:
    """Run ``model`` over the frames 0..``num_frames``-1 of a video.

    Args:
        model: the tracking model.
        num_frames: number of frames.
        img_size: (W, H) of the frames.
        video: video name put in the metainfo (used by ``DetectionsFromFile(det_dir=...)`` and
            ``TracksFromFile``, which also reads ``num_frames`` from it).
        progress: show a progress bar.
        img_paths: frame image paths; needed when the detector reads pixels (an mmdet detector
            instead of cached detections). Without them, a ReID model is not used: trackers
            with appearance fall back to motion only and log it.
        postprocess: apply the model's offline post-processing (``model.interpolation``: gap
            filling) when it has one; ``False`` keeps the online results.

    Returns:
        array (N, 8), :data:`~ikun_mm.structures.TRACK_ROW`: ``frame (0-based), id, x1, y1, x2,
        y2, score, label``.
    """
    width, height = img_size
    if model.needs_pixels and img_paths is None:
        from ..detectors.detections_from_file import DetectionsFromFile
        if not isinstance(model.detector, DetectionsFromFile):
            raise ValueError('track_video: this detector reads pixels; give img_paths')
        # only the ReID would look at pixels: the tracker falls back to motion (and says so)
    rows = []
    frames = range(num_frames)
    if progress:
        from tqdm import tqdm
        frames = tqdm(frames, desc=f'tracking {video}'.strip(), unit='frame')
    for f in frames:
        meta = dict(frame_id=f, video=video, num_frames=num_frames, img_shape=(height, width),
                    ori_shape=(height, width), scale_factor=(1.0, 1.0))
        if img_paths is not None:
            meta['img_path'] = img_paths[f]
        img = (model.frame_tensor(img_paths[f])
               if model.needs_pixels and img_paths is not None else None)
        rows.append(track_results_array(f, model.track_frame(DetDataSample(metainfo=meta), img)))
    results = np.concatenate(rows) if rows else TRACK_ROW.empty()
    interpolation = getattr(model, 'interpolation', None)
    if postprocess and interpolation is not None and len(results):
        results = interpolate_tracks(results, interpolation['max_gap'])
    return results
