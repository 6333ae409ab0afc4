"""The registries of ikun_mm: children of MMDetection's.

Every registry here has mmdet's registry as its parent, so a config with
``default_scope='ikun_mm'`` can name mmdet modules (``OCSORTTracker``, ``KalmanFilter``,
``DetDataPreprocessor``...) and ikun_mm modules without a scope prefix. This is the only module
that creates registries; everything else imports them from here.

Note that a lookup that falls through to a parent only sees what the parent has already
registered: mmengine does not trigger the parent's lazy imports. Call
:func:`ikun_mm.utils.register_all_modules` (which also registers mmdet's modules) before
building from a config.
"""
from mmdet.registry import DATA_SAMPLERS as MMDET_DATA_SAMPLERS
from mmdet.registry import DATASETS as MMDET_DATASETS
from mmdet.registry import HOOKS as MMDET_HOOKS
from mmdet.registry import METRICS as MMDET_METRICS
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.registry import TASK_UTILS as MMDET_TASK_UTILS
from mmdet.registry import TRANSFORMS as MMDET_TRANSFORMS
from mmdet.registry import VISUALIZERS as MMDET_VISUALIZERS
from mmengine.registry import Registry

#: Models: iKUN, NeuralSORT, referring tracker, SOT models, FairMOT, their heads and losses.
MODELS = Registry('model', parent=MMDET_MODELS, locations=['ikun_mm.models'])
#: Non-nn utilities: motion models (NeuralKalmanFilter), assigners, samplers of boxes.
TASK_UTILS = Registry('task util', parent=MMDET_TASK_UTILS, locations=['ikun_mm.models'])
#: Datasets: Refer-KITTI (real and generated), SOT datasets.
DATASETS = Registry('dataset', parent=MMDET_DATASETS, locations=['ikun_mm.datasets'])
#: Data transforms: window/frame sampling, crops, packing.
TRANSFORMS = Registry('transform', parent=MMDET_TRANSFORMS,
                      locations=['ikun_mm.datasets.transforms'])
#: Samplers of dataset indices.
DATA_SAMPLERS = Registry('data sampler', parent=MMDET_DATA_SAMPLERS, locations=['ikun_mm.datasets'])
#: Metrics: the Refer-KITTI referring metric, SOT OPE metric.
METRICS = Registry('metric', parent=MMDET_METRICS, locations=['ikun_mm.evaluation'])
#: Runner hooks.
HOOKS = Registry('hook', parent=MMDET_HOOKS, locations=['ikun_mm.engine'])
#: Visualizers of tracks.
VISUALIZERS = Registry('visualizer', parent=MMDET_VISUALIZERS, locations=['ikun_mm.visualization'])
