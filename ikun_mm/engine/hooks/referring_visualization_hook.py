"""``ReferringVisualizationHook``: videos of the referred tracks during ``tools/test.py``."""
import os.path as osp
from typing import Optional, Sequence

from mmengine.hooks import Hook

from ikun_mm.registry import HOOKS
from ikun_mm.visualization import render_referred, write_video


@HOOKS.register_module()
class ReferringVisualizationHook(Hook):
    """Write one video per test video with every expression's referred boxes drawn
    (``tools/test.py CONFIG CKPT --show-dir DIR`` turns it on).

    Args:
        draw: whether to draw at all (off by default; ``--show-dir`` sets it).
        test_out_dir: output folder; relative paths are inside the run's log dir
            (``<work_dir>/<timestamp>/``), as with mmdet's visualization hook.
        max_expressions: expressions drawn per video (the first ones, by sentence order);
            ``None`` draws all.
        fps: frame rate of the written videos.
    """

    priority = 'NORMAL'

    def __init__(self, draw: bool = False, test_out_dir: Optional[str] = None,
                 max_expressions: Optional[int] = 8, fps: float = 10.0) -> None:
        self.draw = draw
        self.test_out_dir = test_out_dir
        self.max_expressions = max_expressions
        self.fps = fps

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs: Optional[Sequence] = None) -> None:
        if not self.draw or not outputs:
            return
        out_dir = self.test_out_dir or 'vis'
        if not osp.isabs(out_dir):
            out_dir = osp.join(runner.log_dir, out_dir)
        for sample in outputs:
            sentences = list(sample.sentences)[:self.max_expressions]
            referred = {s: sample.pred_referred[s] for s in sentences}
            path = osp.join(out_dir, f'{sample.video}.mp4')
            write_video(render_referred(sample.img_paths, referred, sentences), path, self.fps)
            runner.logger.info(f'drawn {len(sentences)} expressions of {sample.video}: {path}')
