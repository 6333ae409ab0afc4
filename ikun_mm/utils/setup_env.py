"""Registration and process-environment helpers."""
import sys
import uuid
from typing import TextIO

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register every module of mmdet and ikun_mm in their registries.

    mmdet's modules are registered too: a lookup through ikun_mm's registries falls back to
    mmdet's parent registries, and that fallback does not trigger mmdet's lazy imports. Also
    installs the checkpoint loader of :mod:`ikun_mm.utils.checkpoint` (mmengine checkpoints do
    not load under torch's ``weights_only`` default).

    Args:
        init_default_scope: make ``'ikun_mm'`` the current default scope (a fresh scope instance
            is created when another scope is current).
    """
    from mmdet.utils import register_all_modules as register_mmdet_modules
    register_mmdet_modules(init_default_scope=False)

    from .checkpoint import register_checkpoint_loader
    register_checkpoint_loader()  # torch >= 2.6 vs mmengine checkpoints, see its docstring

    import ikun_mm.datasets  # noqa: F401
    import ikun_mm.datasets.transforms  # noqa: F401
    import ikun_mm.engine  # noqa: F401
    import ikun_mm.evaluation  # noqa: F401
    import ikun_mm.models  # noqa: F401
    import ikun_mm.visualization  # noqa: F401

    if init_default_scope:
        current = DefaultScope.get_current_instance()
        if current is None or current.scope_name != 'ikun_mm':
            DefaultScope.get_instance(f'ikun_mm-{uuid.uuid4().hex[:8]}', scope_name='ikun_mm')


def stdout_for_result() -> TextIO:
    """Keep stdout for a tool's result (e.g. ``--json``): from now on, whatever is printed
    without a file, and the log lines of every mmengine logger created later (they write to the
    ``sys.stdout`` of their creation), go to stderr. Returns the real stdout, for the result.

    Call it before anything logs: a logger created earlier keeps writing to stdout.
    """
    out = sys.stdout
    sys.stdout = sys.stderr
    return out
