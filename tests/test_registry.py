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


def test_every_registered_class_is_exported_by_its_package():
    """Every class ikun_mm registers can be imported from its package (the folder's
    ``__init__``, as in mmdet: ``from ikun_mm.models.trackers import NeuralSORTTracker``), and
    every ``__all__`` names things that exist, without duplicates, sorted."""
    import importlib
    import inspect

    import ikun_mm.registry as reg
    from ikun_mm.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    missing, bad_all = [], []
    for name in dir(reg):
        registry = getattr(reg, name)
        if not hasattr(registry, 'module_dict') or registry.scope != 'ikun_mm':
            continue
        for key, obj in registry.module_dict.items():
            if not inspect.isclass(obj) or not obj.__module__.startswith('ikun_mm.'):
                continue
            package = obj.__module__.rsplit('.', 1)[0]
            pkg = importlib.import_module(package)
            if getattr(pkg, obj.__name__, None) is not obj or \
                    obj.__name__ not in getattr(pkg, '__all__', ()):
                missing.append(f'{obj.__name__} ({registry.name}) not exported by {package}')
    import pkgutil

    import ikun_mm
    for info in pkgutil.walk_packages(ikun_mm.__path__, 'ikun_mm.'):
        if not info.ispkg:
            continue
        pkg = importlib.import_module(info.name)
        names = list(getattr(pkg, '__all__', []))
        if len(set(names)) != len(names):
            bad_all.append(f'{info.name}: duplicates in __all__')
        if names != sorted(names):
            bad_all.append(f'{info.name}: __all__ not sorted')
        bad_all += [f'{info.name}: __all__ names missing {n}' for n in names
                    if not hasattr(pkg, n)]
    assert not missing + bad_all, '\n'.join(missing + bad_all)
