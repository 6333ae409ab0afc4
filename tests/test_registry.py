"""ikun_mm's registries see mmdet's modules and their own under default_scope='ikun_mm'."""
from mmengine.config import Config
from mmengine.registry import DefaultScope

from ikun_mm.registry import DATASETS, MODELS, TASK_UTILS


def test_default_scope_builds_mmdet_and_ikun_mm_modules(mini_refer_kitti):
    cfg = Config(dict(
        default_scope='ikun_mm',
        tracker=dict(type='OCSORTTracker', motion=dict(type='KalmanFilter')),
        kf=dict(type='KalmanFilter'),
        dataset=dict(type='ReferKittiDataset', data_root=mini_refer_kitti, split='test')))
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        tracker = MODELS.build(cfg.tracker)
        kf = TASK_UTILS.build(cfg.kf)
        dataset = DATASETS.build(cfg.dataset)
    from mmdet.models.task_modules.tracking import KalmanFilter
    from mmdet.models.trackers import OCSORTTracker

    from ikun_mm.datasets import ReferKittiDataset
    assert isinstance(tracker, OCSORTTracker) and isinstance(tracker.motion, KalmanFilter)
    assert isinstance(kf, KalmanFilter)
    assert isinstance(dataset, ReferKittiDataset) and len(dataset) == 1


def test_registries_are_children_of_mmdet():
    from mmdet.registry import MODELS as MMDET_MODELS
    assert MODELS.parent is MMDET_MODELS and MODELS.scope == 'ikun_mm'
