"""Packing of SOT samples into ``inputs`` + :class:`~ikun_mm.structures.SOTDataSample`."""
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import InstanceData

from ikun_mm.registry import TRANSFORMS
from ikun_mm.structures import SOTDataSample


def _to_chw(imgs) -> torch.Tensor:
    """list of (H, W, 3) arrays -> uint8/float Tensor of shape (N, 3, H, W)."""
    return torch.from_numpy(np.ascontiguousarray(np.stack(imgs).transpose(0, 3, 1, 2)))


@TRANSFORMS.register_module()
class PackSOTInputs(BaseTransform):
    """Pack a training sample (after :class:`SOTTemplateSearchCrop`).

    Output ``inputs``: dict with ``template`` Tensor of shape (Nt, 3, h, h) and ``search`` Tensor
    of shape (Ns, 3, H, H) (pixel values, channel order as loaded). ``data_samples``: a
    :class:`SOTDataSample` with ``gt_instances.bboxes`` (Nt + Ns, 4) in crop pixels and
    ``gt_instances.labels`` (Nt + Ns,).

    With ``pack_masks=True`` the crops' padding masks (``template_att`` / ``search_att`` of
    ``SOTTemplateSearchCrop(crop_mode='ostrack')``, True on padding) are packed too, as
    ``inputs['template_mask']`` (Nt, h, h) and ``inputs['search_mask']`` (Ns, H, H) bool Tensors:
    STARK trains with them (its ``template_att`` / ``search_att``); OSTrack does not use them.

    Args:
        pack_masks: pack the padding masks (an error when the crop step made none).
    """

    META_KEYS = ('num_templates', 'template_size', 'search_size', 'video', 'frame_ids')

    def __init__(self, pack_masks: bool = False) -> None:
        self.pack_masks = pack_masks

    def transform(self, results: dict) -> dict:
        sample = SOTDataSample()
        gt = InstanceData()
        gt.bboxes = torch.as_tensor(results['gt_bboxes'], dtype=torch.float32)
        gt.labels = torch.as_tensor(results['gt_labels'], dtype=torch.long)
        sample.gt_instances = gt
        sample.set_metainfo({k: results[k] for k in self.META_KEYS if k in results})
        inputs = dict(template=_to_chw(results['template_imgs']),
                      search=_to_chw(results['search_imgs']))
        if self.pack_masks:
            for key in ('template', 'search'):
                masks = results.get(f'{key}_att')
                if masks is None or any(m is None for m in masks):
                    raise KeyError(f'PackSOTInputs(pack_masks=True): no {key}_att padding masks; '
                                   "use SOTTemplateSearchCrop(crop_mode='ostrack')")
                inputs[f'{key}_mask'] = torch.from_numpy(np.stack(masks).astype(bool))
        return dict(inputs=inputs, data_samples=sample)


@TRANSFORMS.register_module()
class PackSOTFrame(BaseTransform):
    """Pack a test frame (after mmcv's ``LoadImageFromFile``).

    Output ``inputs``: Tensor of shape (3, H, W). ``data_samples``: a :class:`SOTDataSample` with
    ``gt_instances.bboxes`` (1, 4) (the frame's box, NaN if none; on frame 0 the box the tracker
    is initialised with) and ``gt_instances.labels`` (1,) (1 = visible), and metainfo ``video``,
    ``frame_id``, ``video_length``, ``img_path``, ``ori_shape``.
    """

    def transform(self, results: dict) -> dict:
        img = results['img']
        sample = SOTDataSample()
        gt = InstanceData()
        box = results['init_bbox'] if results['frame_id'] == 0 else results['gt_bbox']
        gt.bboxes = torch.as_tensor(np.asarray(box, np.float32)).reshape(1, 4)
        gt.labels = torch.tensor([int(results['visible'])])
        sample.gt_instances = gt
        sample.set_metainfo(dict(video=results['video'], frame_id=results['frame_id'],
                                 video_length=results['video_length'],
                                 img_path=results['img_path'], ori_shape=img.shape[:2]))
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        return dict(inputs=inputs, data_samples=sample)
