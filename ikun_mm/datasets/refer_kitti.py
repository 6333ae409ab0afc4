"""``ReferKittiDataset``: the video-level Refer-KITTI dataset (real and generated alike)."""
from typing import List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset

from ikun_mm.registry import DATASETS
from .refer_kitti_io import load_split


@DATASETS.register_module()
class ReferKittiDataset(BaseDataset):
    """One item per video: its frames, GT boxes with ids, and referring expressions.

    Reads the layout described in :mod:`ikun_mm.datasets.refer_kitti_io`; malformed inputs raise
    :class:`~ikun_mm.datasets.refer_kitti_io.ReferKittiFormatError` naming the file and line.

    Each item of ``data_list`` is a dict with keys ``video`` (str), ``img_paths`` (list of str, one
    per frame index), ``img_size`` ((W, H)), ``boxes`` (array (N, 7): frame, id, cls, x1, y1, x2,
    y2 in pixels) and ``expressions`` (list of
    :class:`~ikun_mm.datasets.refer_kitti_io.Expression`).

    Args:
        data_root: root of the Refer-KITTI tree.
        split: ``'train'``, ``'test'`` (read from ``data_root/split.json``, else the paper split)
            or an explicit list of video names.
        classes: names of the label classes, indexed by the ``cls`` column. Stored as
            ``metainfo['classes']``.
        exclude_sentences: substrings; expressions containing any of them are dropped (e.g. the
            Refer-KITTI test protocol drops expressions about braking, see
            :mod:`ikun_mm.evaluation`). Empty by default: nothing is hard-coded.
    """

    METAINFO = dict(classes=('car', 'pedestrian'))

    def __init__(self,
                 data_root: str,
                 split: Union[str, Sequence[str]] = 'train',
                 exclude_sentences: Sequence[str] = (),
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        self.split = split
        self.exclude_sentences = tuple(exclude_sentences)
        kwargs.setdefault('serialize_data', False)
        super().__init__(data_root=data_root, metainfo=metainfo, ann_file='', **kwargs)

    def load_data_list(self) -> List[dict]:
        return [dict(video=video, img_paths=ann.img_paths, img_size=ann.img_size,
                     boxes=ann.boxes, expressions=exprs, annotation=ann)
                for video, ann, exprs in load_split(self.data_root, self.split,
                                                    self.exclude_sentences)]
