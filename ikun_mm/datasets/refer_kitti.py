"""``ReferKittiDataset``: the video-level Refer-KITTI dataset (real and generated alike), and the
positive-box counts of a split's expressions (the similarity-calibration table)."""
from typing import Dict, List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset

from ikun_mm.registry import DATASETS
from ikun_mm.structures.expression_synonyms import (Synonyms, canonical_sentence,
                                                    resolve_synonyms)
from .refer_kitti_io import load_expressions, load_split, resolve_videos


def positive_box_counts(data_root: str, split: Union[str, Sequence[str]] = 'train',
                        synonyms: Synonyms = None) -> Dict[str, int]:
    """Positive boxes of every expression of a split, as the official iKUN calibration table
    counts them (dyhBUPT/iKUN, ``similarity_calibration.encode_text``): for each video of the
    split and each expression file, the number of (frame, track id) entries of its ``label``,
    added to the count of its (canonical, when ``synonyms`` is given) text. Synonymous files of
    one video and the same expression in several videos add up. Expressions with no positive box
    are kept with count 0.

    Only the expression files are read (not the frames or labels).

    Returns:
        ``{text: count}`` with the texts sorted.
    """
    resolve_synonyms(synonyms)  # fail early on a bad table
    counts: Dict[str, int] = {}
    for video in resolve_videos(data_root, split):
        for expr in load_expressions(data_root, video):
            text = canonical_sentence(expr.sentence, synonyms)
            counts[text] = counts.get(text, 0) + sum(len(ids) for ids in expr.label.values())
    return dict(sorted(counts.items()))


@DATASETS.register_module()
class ReferKittiDataset(BaseDataset):
    """One item per video: its frames, GT boxes with ids, and referring expressions.

    Reads the layout described in :mod:`ikun_mm.datasets.refer_kitti_io`; malformed inputs raise
    :class:`~ikun_mm.datasets.refer_kitti_io.ReferKittiFormatError` naming the file and line.

    Each item of ``data_list`` is a dict with keys ``video`` (str), ``img_paths`` (list of str, one
    per frame index), ``img_size`` ((W, H)), ``boxes`` (array (N, 7): frame, id, cls, x1, y1, x2,
    y2 in pixels), ``expressions`` (list of
    :class:`~ikun_mm.datasets.refer_kitti_io.Expression`, the files as read: evaluation and
    results are per expression file) and ``texts`` (list of str, one per expression: the text
    the referring model scores, the canonical text when ``synonyms`` is given, else the
    sentence itself).

    Args:
        data_root: root of the Refer-KITTI tree.
        split: ``'train'``, ``'test'`` (read from ``data_root/split.json``, else the paper split)
            or an explicit list of video names.
        classes: names of the label classes, indexed by the ``cls`` column. Stored as
            ``metainfo['classes']``.
        exclude_sentences: substrings; expressions containing any of them are dropped (e.g. the
            Refer-KITTI test protocol drops expressions about braking, see
            :mod:`ikun_mm.evaluation`). Empty by default: nothing is hard-coded.
        synonyms: ``None`` (off), ``'refer_kitti'`` or a dict ``{phrase: replacement}`` (see
            :mod:`ikun_mm.structures.expression_synonyms`): the model is given the canonical text
            of each expression (``texts``), as the official iKUN code does, while the
            expressions themselves, and so the results, keep their own sentences.
    """

    METAINFO = dict(classes=('car', 'pedestrian'))

    def __init__(self,
                 data_root: str,
                 split: Union[str, Sequence[str]] = 'train',
                 exclude_sentences: Sequence[str] = (),
                 synonyms: Synonyms = None,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        self.split = split
        self.exclude_sentences = tuple(exclude_sentences)
        resolve_synonyms(synonyms)  # fail at build time on a bad table
        self.synonyms = synonyms
        kwargs.setdefault('serialize_data', False)
        super().__init__(data_root=data_root, metainfo=metainfo, ann_file='', **kwargs)

    def load_data_list(self) -> List[dict]:
        return [dict(video=video, img_paths=ann.img_paths, img_size=ann.img_size,
                     boxes=ann.boxes, expressions=exprs, annotation=ann,
                     texts=[canonical_sentence(e.sentence, self.synonyms) for e in exprs])
                for video, ann, exprs in load_split(self.data_root, self.split,
                                                    self.exclude_sentences)]
