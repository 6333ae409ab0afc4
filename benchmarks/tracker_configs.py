"""Where the tracking benchmarks find a tracker's config on the generated mini Refer-KITTI:
NeuralSORT's in ``configs/neuralsort/``, mmdet's trackers in ``configs/baselines/``, all named
``<name>_mini_refer_kitti.py`` and differing only in ``model.tracker``."""
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def tracker_config_path(name: str) -> str:
    """Config file of tracker ``name`` (``neuralsort``, ``neuralsort_reid``, ``ocsort``,
    ``bytetrack``, ``sort``, ``deepsort``, ``strongsort``, ``strongsort_reid``)."""
    folder = 'neuralsort' if name.startswith('neuralsort') else 'baselines'
    path = osp.join(ROOT, 'configs', folder, f'{name}_mini_refer_kitti.py')
    if not osp.isfile(path):
        raise FileNotFoundError(f'no tracker config {path} (tracker {name!r})')
    return path
