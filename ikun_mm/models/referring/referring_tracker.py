"""``ReferringTracker``: detector → tracker → iKUN, the whole referring MOT chain in one model.

One video in, per expression the referred tracks out::

    frames ─► detector ─► tracker (any mmdet-API tracker) ─► tracks {id: (frame, box)}
                                                              │
                     expressions ─► iKUN score_tracks ────────┴─► frame scores > score_thr
                                                                   ─► referred rows per expression

The tracker runs once per video, whatever the number of expressions; iKUN scores every track
window against all expressions at once (the fast path of :func:`.inference.score_tracks`).
:meth:`ReferringTracker.score_video` is the one driver of this chain (track, then score):
``predict`` (``tools/test.py``), ``refer_video`` (the demo) and :func:`prepare_referring` (raw
scores for the calibration fit and the benchmark tables) all go through it.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.structures import BaseDataElement

from ikun_mm.registry import MODELS
from ikun_mm.structures import REFERRED_ROW, TRACK_BOX_ROW, TRACK_ROW
from ikun_mm.utils.checkpoint import read_checkpoint
from ..trackers.tracking_by_detection import TrackingByDetection, track_video
from .inference import TrackScores, score_tracks

def tracks_from_rows(rows: np.ndarray) -> Dict[int, np.ndarray]:
    """Tracker rows (:data:`~ikun_mm.structures.TRACK_ROW`, (N, 8)) -> ``{id: (L, 5)}`` tracks
    (:data:`~ikun_mm.structures.TRACK_BOX_ROW`: frame, x1, y1, x2, y2), each sorted by frame."""
    tracks = {}
    ids = rows[:, TRACK_ROW.id]
    for tid in np.unique(ids).astype(int):
        sel = rows[ids == tid]
        sel = sel[np.argsort(sel[:, TRACK_ROW.frame], kind='stable')]
        tracks[int(tid)] = TRACK_ROW.to(TRACK_BOX_ROW, sel)
    return tracks


def referred_rows(tracks: Dict[int, np.ndarray], scores: Dict[int, 'object'],
                  num_expressions: int, score_thr: float = 0.0) -> List[np.ndarray]:
    """Per expression, the rows of the frames whose score exceeds ``score_thr``.

    Args:
        tracks: ``{id: (L, 5) frame, x1, y1, x2, y2}`` (:data:`~ikun_mm.structures.TRACK_BOX_ROW`).
        scores: ``{id: TrackScores}`` from :func:`.inference.score_tracks` (same frames).

    Returns:
        E arrays of shape (M_e, 7) (:data:`~ikun_mm.structures.REFERRED_ROW`): ``frame
        (0-based), id, x1, y1, x2, y2, score``, sorted by frame then id.
    """
    out = []
    for e in range(num_expressions):
        parts = []
        for tid, track in tracks.items():
            s = scores[tid].scores[:, e]
            keep = s > score_thr
            if keep.any():
                parts.append(TRACK_BOX_ROW.to(REFERRED_ROW, track[keep], id=tid, score=s[keep]))
        rows = np.concatenate(parts) if parts else REFERRED_ROW.empty()
        out.append(rows[np.lexsort((rows[:, REFERRED_ROW.id], rows[:, REFERRED_ROW.frame]))])
    return out


def _init_params(cls) -> set:
    """The keyword parameters ``cls(...)`` takes: its ``__init__`` and, through ``**kwargs``,
    those of its bases."""
    import inspect
    accepted = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        accepted |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                          p.KEYWORD_ONLY)}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break  # this __init__ takes no **kwargs: nothing further up receives more
    accepted.discard('self')
    return accepted


def _registered_tracker_params() -> set:
    """Every parameter some registered tracker takes: mmdet's ``BaseTracker`` subclasses (of
    ikun_mm and mmdet) and the other trackers of ``ikun_mm.models.trackers``
    (``TracksFromFile``)."""
    from mmdet.models.trackers import BaseTracker
    from mmdet.registry import MODELS as MMDET_MODELS
    params = set()
    for registry in (MODELS, MMDET_MODELS):
        for cls in registry.module_dict.values():
            if not isinstance(cls, type):
                continue
            if issubclass(cls, BaseTracker) or (
                    cls.__module__.startswith('ikun_mm.models.trackers')
                    and not issubclass(cls, torch.nn.Module)):
                params |= _init_params(cls)
    return params


def swappable_tracker_cfg(cfg: dict) -> dict:
    """Drop the settings the configured tracker class does not take, when they came from
    swapping the tracker type; any other unknown setting (a typo) is an error.

    The tracker of a referring config is swapped by changing ``type`` alone (e.g.
    ``--cfg-options model.tracker.type=OCSORTTracker``): settings of the previous tracker that
    the new one has no parameter for (NeuralSORT's ``cascade_depth`` for OC-SORT, say) are
    dropped with a log line instead of failing the build. Shared ones (``motion``,
    ``obj_score_thr``, ``init_track_thr``, ``num_frames_retain``...) carry over, so the trained
    NKF drops into any mmdet tracker unchanged. A setting that no registered tracker takes
    (``obj_scor_thr``) cannot come from a swap: it raises.

    Raises:
        KeyError: the tracker type is not registered.
        ValueError: a setting no registered tracker takes; the message names it (and the
            closest setting the tracker does take).
    """
    import difflib

    from mmengine.logging import MMLogger
    cls = MODELS.get(cfg['type'])
    if cls is None:
        raise KeyError(f'tracker type {cfg["type"]!r} is not registered')
    accepted = _init_params(cls)
    dropped = sorted(k for k in cfg if k != 'type' and k not in accepted)
    if not dropped:
        return dict(cfg)
    known = _registered_tracker_params()
    typos = [k for k in dropped if k not in known]
    if typos:
        hints = []
        for key in typos:
            close = difflib.get_close_matches(key, sorted(accepted), n=1)
            hints.append(f'{key!r}' + (f' (did you mean {close[0]!r}?)' if close else ''))
        raise ValueError(
            f'model.tracker: {cfg["type"]} takes no setting {", ".join(hints)}, and no other '
            f'registered tracker does either (a typo?). {cfg["type"]} takes: '
            f'{", ".join(sorted(accepted))}')
    MMLogger.get_current_instance().info(
        f'{cfg["type"]} takes no {dropped}: those tracker settings are ignored')
    return {k: v for k, v in cfg.items() if k not in dropped}


@MODELS.register_module()
class ReferringTracker(TrackingByDetection):
    """Referring multi-object tracking with an insertable referring model (iKUN recipe).

    Swapping the base tracker is one config line (``model.tracker.type``); the detector can be
    any mmdet detector or ``DetectionsFromFile`` (cached detections).

    Checkpoints: ``tools/test.py CONFIG CHECKPOINT`` loads CHECKPOINT strictly. It may be a
    checkpoint of the whole model or an iKUN checkpoint as ``tools/train.py`` writes it for an
    iKUN config (keys without the ``referrer.`` prefix); the latter loads into ``referrer`` and
    the other parts keep the weights their own configs gave them (e.g. the NKF checkpoint of
    ``NeuralSORTTracker``). ``referrer_checkpoint`` does the same at build time.

    Args:
        detector: detector config (``DetectionsFromFile`` or an mmdet detector).
        tracker: tracker config (``NeuralSORTTracker``, ``OCSORTTracker``, ``ByteTracker``...).
        referrer: iKUN config (:class:`~.ikun.IKUN`).
        referrer_checkpoint: optional iKUN checkpoint loaded (strictly) at build time.
        score_thr: a box is referred when its (calibrated) frame score exceeds this (paper: 0).
        calibrate: ``None`` uses the referrer's calibration when it has an enabled one;
            ``False`` uses raw scores.
        interpolation: ``dict(max_gap=N)`` fills track gaps of up to N frames offline before
            referring (the paper's NeuralSORT post-processing; the referring configs set
            ``max_gap=20``), for whichever tracker is configured; ``None`` keeps the tracker's
            online output. Streaming (:class:`.streaming.ReferringStream`) never interpolates.
        reid, cmc, data_preprocessor: as in :class:`TrackingByDetection`.
    """

    def __init__(self,
                 detector: dict,
                 tracker: dict,
                 referrer: dict,
                 referrer_checkpoint: Optional[str] = None,
                 score_thr: float = 0.0,
                 calibrate: Optional[bool] = None,
                 interpolation: Optional[dict] = None,
                 reid: Optional[dict] = None,
                 cmc: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(detector=detector, tracker=swappable_tracker_cfg(tracker), reid=reid,
                         cmc=cmc, interpolation=interpolation,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.referrer = MODELS.build(referrer)
        self.score_thr = float(score_thr)
        self.calibrate = calibrate
        self._register_load_state_dict_pre_hook(self._route_referrer_checkpoint)
        if referrer_checkpoint:
            self.load_referrer_checkpoint(referrer_checkpoint)

    # -- checkpoints ------------------------------------------------------------------------
    def _route_referrer_checkpoint(self, state_dict, prefix, *args) -> None:
        """Load-state-dict pre-hook: a referrer-only state dict goes into ``referrer``. Keys the
        checkpoint lacks keep their current values when they belong to the other parts (their
        own configs load them) or to the referrer's calibration (a checkpoint trained without
        calibration keeps the config's ``a``, ``b``); any other mismatch stays an error."""
        children = tuple(f'{prefix}{name}.' for name in self._modules)
        own = [k for k in state_dict if k.startswith(prefix)]
        if own and not any(k.startswith(children) for k in own):
            for key in own:
                state_dict[f'{prefix}referrer.{key[len(prefix):]}'] = state_dict.pop(key)
        referrer = f'{prefix}referrer.'
        if getattr(self.referrer, 'calibration', None) is None:
            for key in [k for k in state_dict if k.startswith(f'{referrer}calibration.')]:
                state_dict.pop(key)  # fitted a, b of a config without calibration: unused
        if any(k.startswith(referrer) for k in state_dict):
            for key, value in self.state_dict(prefix=prefix).items():
                if not key.startswith(referrer) or key.startswith(f'{referrer}calibration.'):
                    state_dict.setdefault(key, value)

    def load_referrer_checkpoint(self, path: str) -> None:
        """Load an iKUN checkpoint into ``referrer``; any mismatch raises."""
        ckpt = read_checkpoint(path, map_location='cpu')
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
        if not isinstance(state, dict) or not state:
            raise RuntimeError(f'{path}: not a checkpoint (no state_dict)')
        state = {k[len('referrer.'):] if k.startswith('referrer.') else k: v
                 for k, v in state.items()}
        if getattr(self.referrer, 'calibration', None) is None:
            state = {k: v for k, v in state.items() if not k.startswith('calibration.')}
        for key, value in self.referrer.state_dict().items():
            if key.startswith('calibration.'):
                state.setdefault(key, value)  # a checkpoint without calibration keeps the cfg's
        try:
            self.referrer.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise RuntimeError(f'{path}: does not fit the referrer of this config: {exc}') \
                from exc

    # -- inference --------------------------------------------------------------------------
    def track_rows(self, num_frames: int, img_size, video: str = '',
                   img_paths: Optional[Sequence[str]] = None,
                   progress: bool = False) -> np.ndarray:
        """Run detector + tracker over a video (:func:`track_video`, with the offline gap
        interpolation when ``interpolation`` is set).

        Returns:
            array (N, 8): ``frame (0-based), id, x1, y1, x2, y2, score, label``.
        """
        return track_video(self, num_frames, img_size, video, progress, img_paths,
                           postprocess=True)

    def score(self, img_paths: Sequence, tracks: Dict[int, np.ndarray], texts: Sequence[str],
              raw: bool = False) -> Dict[int, TrackScores]:
        """iKUN frame scores of ``tracks`` against ``texts`` (:func:`.inference.score_tracks`,
        fast path); each distinct text is scored once.

        Args:
            img_paths: the frames (paths or RGB arrays), index = frame.
            tracks: ``{id: (L, 5) frame, x1, y1, x2, y2}``.
            texts: E texts (repeats allowed).
            raw: uncalibrated scores; otherwise ``calibrate`` decides.

        Returns:
            ``{id: TrackScores}`` whose score columns follow ``texts``; ``{}`` without tracks
            or texts.
        """
        texts = list(texts)
        if not tracks or not texts:
            return {}
        unique = list(dict.fromkeys(texts))
        scores = score_tracks(self.referrer, img_paths, tracks, unique, fast=True,
                              calibrate=False if raw else self.calibrate)
        if len(unique) != len(texts):
            cols = [unique.index(t) for t in texts]
            scores = {tid: TrackScores(frames=ts.frames, scores=ts.scores[:, cols])
                      for tid, ts in scores.items()}
        return scores

    def refer(self, img_paths: Sequence, tracks: Dict[int, np.ndarray],
              expressions: Sequence[str]) -> List[np.ndarray]:
        """Score ``tracks`` against ``expressions`` (:meth:`score`) and keep the referred rows
        (see :func:`referred_rows`)."""
        expressions = list(expressions)
        return self._referred(tracks, self.score(img_paths, tracks, expressions),
                              len(expressions))

    def score_video(self, img_paths: Sequence, texts: Sequence[str], img_size=None,
                    video: str = '', progress: bool = False, raw: bool = False,
                    num_frames: Optional[int] = None) -> Tuple[np.ndarray, Dict[int, np.ndarray],
                                                               Dict[int, TrackScores]]:
        """The driver of one video: track (:meth:`track_rows`), then score every track against
        every text (:meth:`score`).

        Args:
            img_paths: the frames (paths or RGB arrays), index = frame.
            texts: the texts the referrer reads.
            img_size: (W, H); read from the first frame when None.
            video: video name (used by ``DetectionsFromFile(det_dir=...)``).
            progress: show a progress bar while tracking.
            raw: uncalibrated scores.
            num_frames: frames to track (default ``len(img_paths)``).

        Returns:
            the tracker rows (N, 8), the tracks ``{id: (L, 5)}`` and their scores
            ``{id: TrackScores}`` (columns follow ``texts``).
        """
        if img_size is None:
            img_size = _frame_size(img_paths[0])
        num_frames = len(img_paths) if num_frames is None else num_frames
        rows = self.track_rows(num_frames, img_size, video, img_paths, progress)
        tracks = tracks_from_rows(rows)
        return rows, tracks, self.score(img_paths, tracks, texts, raw=raw)

    @torch.no_grad()
    def refer_video(self, img_paths: Sequence[str], expressions: Sequence[str],
                    img_size=None, video: str = '',
                    progress: bool = False) -> Dict[str, np.ndarray]:
        """Offline referring tracking of one video.

        Args:
            img_paths: the frames (paths or RGB arrays), index = frame.
            expressions: free-text expressions.
            img_size: (W, H); read from the first frame when None.
            video: video name (used by ``DetectionsFromFile(det_dir=...)``).
            progress: show a progress bar while tracking.

        Returns:
            ``{expression: array (M, 7) frame (0-based), id, x1, y1, x2, y2, score}``.
        """
        expressions = list(expressions)
        _, tracks, scores = self.score_video(img_paths, expressions, img_size, video, progress)
        return dict(zip(expressions, self._referred(tracks, scores, len(expressions))))

    def _referred(self, tracks: Dict[int, np.ndarray], scores: Dict[int, TrackScores],
                  num_expressions: int) -> List[np.ndarray]:
        """:func:`referred_rows` at ``score_thr``; empty rows without scores."""
        if not scores:
            return [REFERRED_ROW.empty() for _ in range(num_expressions)]
        return referred_rows(tracks, scores, num_expressions, self.score_thr)

    def predict(self, inputs, data_samples: List[BaseDataElement],
                rescale: bool = True, **kwargs) -> List[BaseDataElement]:
        """Refer every video of the batch; adds ``pred_referred`` (``{sentence: rows}``) and
        ``pred_track_rows`` (the tracker's output) to each sample."""
        for sample in data_samples:
            meta = sample.metainfo
            sentences = list(meta['sentences'])
            # the model reads each expression's canonical text (the dataset's synonym mapping,
            # e.g. 'vehicles in black' -> 'car in black'); results stay keyed by the sentence
            texts = list(meta.get('texts', sentences))
            rows, tracks, scores = self.score_video(meta['img_paths'], texts, meta['img_size'],
                                                    meta['video'],
                                                    num_frames=meta['num_frames'])
            sample.pred_track_rows = rows
            sample.pred_referred = dict(zip(sentences,
                                            self._referred(tracks, scores, len(texts))))
        return data_samples


@torch.no_grad()
def prepare_referring(model: ReferringTracker, items: Sequence[dict],
                      progress: bool = False) -> List[dict]:
    """Track every video of ``items`` (``ReferKittiDataset`` items) with ``model`` and score its
    tracks against all its expressions, uncalibrated (:meth:`ReferringTracker.score_video`), so
    that :func:`ikun_mm.evaluation.referring_metrics` or
    :class:`ikun_mm.evaluation.ReferringGrid` can evaluate any calibration offsets without
    running the model again.

    Returns:
        one dict per video: the item's ``video``, ``annotation``, ``expressions`` plus
        ``sentences``, ``num_frames``, ``tracks`` (``{id: (L, 5)}``) and ``raw``
        (``{id: TrackScores}``, columns following ``sentences``; the model reads each
        sentence's ``texts`` entry, its canonical text with the dataset's ``synonyms``).
    """
    prepared = []
    for item in items:
        sentences = [e.sentence for e in item['expressions']]
        texts = list(item.get('texts', sentences))
        _, tracks, raw = model.score_video(item['img_paths'], texts, item['img_size'],
                                           item['video'], progress, raw=True)
        prepared.append(dict(video=item['video'], annotation=item['annotation'],
                             expressions=item['expressions'], sentences=sentences,
                             num_frames=len(item['img_paths']), tracks=tracks, raw=raw))
    return prepared


def _frame_size(frame) -> tuple:
    if isinstance(frame, np.ndarray):
        return frame.shape[1], frame.shape[0]
    from PIL import Image
    with Image.open(frame) as img:
        return img.size
