"""``SOTDataSample``: what flows between the SOT pipeline, models and the OPE metric."""
from mmengine.structures import BaseDataElement, InstanceData


class SOTDataSample(BaseDataElement):
    """Data sample of single-object tracking, for training crops and for test frames alike.

    Fields:
        gt_instances (InstanceData):
            * training sample (template/search crops): ``bboxes`` Tensor of shape (Nt + Ns, 4),
              the target box (x1, y1, x2, y2) in the pixel coordinates of each crop, template
              crops first; ``labels`` Tensor of shape (Nt + Ns,), 1 where the crop shows the
              target, 0 for a negative search crop (STARK's score head).
            * test frame: ``bboxes`` Tensor of shape (1, 4), the target box in image pixels
              (NaN where the dataset has no box); ``labels`` Tensor of shape (1,), 1 where the
              target is visible (frames with label 0 are left out of the OPE metric).
        pred_instances (InstanceData): test frame only: ``bboxes`` Tensor of shape (1, 4) in
            image pixels and ``scores`` Tensor of shape (1,) (1 on the first frame).

    Metainfo:
        training: ``num_templates`` (int), ``template_size`` / ``search_size`` (int, side of the
            square crops), ``video`` (str) and ``frame_ids`` (list of int).
        test: ``video`` (str), ``frame_id`` (int, 0-based), ``video_length`` (int),
            ``img_path`` (str), ``ori_shape`` ((H, W)).
    """

    @property
    def gt_instances(self) -> InstanceData:
        return self._gt_instances

    @gt_instances.setter
    def gt_instances(self, value: InstanceData) -> None:
        self.set_field(value, '_gt_instances', dtype=InstanceData)

    @gt_instances.deleter
    def gt_instances(self) -> None:
        del self._gt_instances

    @property
    def pred_instances(self) -> InstanceData:
        return self._pred_instances

    @pred_instances.setter
    def pred_instances(self, value: InstanceData) -> None:
        self.set_field(value, '_pred_instances', dtype=InstanceData)

    @pred_instances.deleter
    def pred_instances(self) -> None:
        del self._pred_instances
