"""MOTChallenge in mmdet's CocoVID format, restricted to one detector copy, as FairMOT trains.

MOT17's train folder holds every video three times (``-DPM``, ``-FRCNN``, ``-SDP``) with the same
frames and the same ground truth; mmdet's ``tools/dataset_converters/mot2coco.py`` converts all
21 folders and numbers the identities of each copy apart, so training on all of them shows every
person three times under three identity classes. FairMOT lists one copy (``src/data/mot17.train``,
``mot17.half``, ``mot17.val``: the ``-SDP`` folders) and builds its labels as
``src/gen_labels_16.py`` does: ground-truth rows with ``mark == 0`` or a class other than
pedestrian are skipped, and identities are numbered consecutively over the kept tracks.

:class:`MOTChallengeOneCopyDataset` does the same on the mmdet json:

* ``video_name_contains`` keeps the videos whose folder name contains it (``'SDP'``);
* in training (``test_mode=False``) boxes with ``mot_conf == 0`` are dropped (``mark == 0``);
  the pedestrian-only filter is ``metainfo=dict(classes=('pedestrian', ))``;
* in training the identities are renumbered ``0 .. n-1`` in order of first appearance; ``n`` is
  logged and stored as ``self.num_ids`` / ``metainfo['num_ids']``; with ``max_ids`` set (the
  config's ``model.head.num_ids``) a larger ``n`` raises at load time.

FairMOT sizes its classifier ``nID = max label id + 2`` (ids start at 1 and ``JointDataset`` adds
one), i.e. two classes that never occur; here the classifier has exactly ``num_ids`` classes when
the config sets it to ``n``, or unused classes when it sets a bound.
"""
import os.path as osp
from typing import List, Optional

from mmdet.datasets import MOTChallengeDataset
from mmengine.logging import print_log

from ikun_mm.registry import DATASETS


@DATASETS.register_module()
class MOTChallengeOneCopyDataset(MOTChallengeDataset):
    """``MOTChallengeDataset`` on one detector copy with contiguous training identities.

    Args:
        video_name_contains: keep videos whose folder name (first component of the image
            ``file_name``) contains this string; ``None`` keeps all.
        drop_ignored: in training, drop boxes with ``mot_conf == 0``.
        max_ids: in training, raise if the kept data has more identities than this.
        *args, **kwargs: ``MOTChallengeDataset`` arguments.
    """

    def __init__(self,
                 *args,
                 video_name_contains: Optional[str] = None,
                 drop_ignored: bool = True,
                 max_ids: Optional[int] = None,
                 **kwargs) -> None:
        self.video_name_contains = video_name_contains
        self.drop_ignored = drop_ignored
        self.max_ids = max_ids
        self.num_ids = None
        super().__init__(*args, **kwargs)

    @staticmethod
    def _video_name(video: dict) -> str:
        if not video['images']:
            return ''
        return osp.normpath(video['images'][0]['file_name']).split(osp.sep)[0]

    def load_data_list(self) -> List[dict]:
        videos = super().load_data_list()
        if self.video_name_contains is not None:
            videos = [v for v in videos if self.video_name_contains in self._video_name(v)]
            if not videos:
                raise ValueError(f'{self.ann_file}: no video name contains '
                                 f'{self.video_name_contains!r}')
        if self.test_mode:
            return videos
        id_map = {}
        for video in videos:
            for image in video['images']:
                kept = []
                for inst in image['instances']:
                    if self.drop_ignored and inst.get('mot_conf', 1) == 0:
                        continue
                    inst['instance_id'] = id_map.setdefault(inst['instance_id'], len(id_map))
                    kept.append(inst)
                image['instances'] = kept
        self.num_ids = len(id_map)
        self._metainfo['num_ids'] = self.num_ids
        names = sorted(self._video_name(v) for v in videos)
        print_log(f'{self.ann_file}: {len(videos)} videos {names}, {self.num_ids} identities',
                  logger='current')
        if self.max_ids is not None and self.num_ids > self.max_ids:
            raise ValueError(f'{self.ann_file}: {self.num_ids} training identities but '
                             f'max_ids={self.max_ids}; set model.head.num_ids (and the dataset\'s '
                             f'max_ids) to at least {self.num_ids}')
        return videos
