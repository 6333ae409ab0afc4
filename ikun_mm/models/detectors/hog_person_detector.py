"""``HOGPersonDetector``: OpenCV's built-in HOG + linear SVM people detector as an mm detector.

It ships inside OpenCV (no weights to download), so it is the person detector of the offline
real-video demo (``demo/rmot_demo.py`` on ``vtest.avi``). It is a classical detector (Dalal &
Triggs): fine for upright pedestrians of 64x128 px and up, weak for small or occluded people.
"""
from typing import List, Sequence

import cv2
import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmengine.model import BaseModel
from mmengine.structures import InstanceData

from ikun_mm.registry import MODELS


def hog_detect(img: np.ndarray, hog: cv2.HOGDescriptor, score_thr: float, nms_thr: float,
               win_stride: int, scale: float) -> np.ndarray:
    """Run HOG people detection on one BGR image.

    Returns:
        array (K, 5): ``x1, y1, x2, y2, score`` with score = sigmoid(SVM margin), after NMS.
    """
    rects, weights = hog.detectMultiScale(img, winStride=(win_stride, win_stride),
                                          padding=(8, 8), scale=scale)
    if len(rects) == 0:
        return np.zeros((0, 5), np.float32)
    rects = np.asarray(rects, np.float32).reshape(-1, 4)
    scores = 1.0 / (1.0 + np.exp(-np.asarray(weights, np.float32).reshape(-1)))
    keep = scores >= score_thr
    rects, scores = rects[keep], scores[keep]
    if len(rects) == 0:
        return np.zeros((0, 5), np.float32)
    idx = cv2.dnn.NMSBoxes(rects.tolist(), scores.tolist(), score_thr, nms_thr)
    idx = np.asarray(idx, int).reshape(-1)
    boxes = rects[idx].copy()
    boxes[:, 2:] += boxes[:, :2]
    return np.concatenate([boxes, scores[idx, None]], 1)


@MODELS.register_module()
class HOGPersonDetector(BaseModel):
    """OpenCV HOG people detector with the mmdet detector ``predict`` interface.

    Args:
        score_thr: minimum sigmoid(SVM margin) of a kept detection.
        nms_thr: IoU threshold of the non-maximum suppression.
        win_stride: detection window stride in pixels.
        scale: image pyramid scale step.
        label: label given to every detection.
    """

    def __init__(self, score_thr: float = 0.5, nms_thr: float = 0.45, win_stride: int = 8,
                 scale: float = 1.05, label: int = 1, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.score_thr, self.nms_thr = score_thr, nms_thr
        self.win_stride, self.scale, self.label = win_stride, scale, label

    def predict(self, batch_inputs, batch_data_samples: List[DetDataSample],
                rescale: bool = True) -> List[DetDataSample]:
        """Detect people.

        Args:
            batch_inputs: Tensor of shape (N, 3, H, W) or a list of N Tensors (3, H, W), BGR
                pixel values 0..255 (un-normalised).
        """
        images: Sequence[torch.Tensor] = batch_inputs
        for img, sample in zip(images, batch_data_samples):
            arr = img.detach().cpu().numpy().transpose(1, 2, 0)
            arr = np.ascontiguousarray(np.clip(arr, 0, 255).astype(np.uint8))
            dets = hog_detect(arr, self.hog, self.score_thr, self.nms_thr, self.win_stride,
                              self.scale)
            inst = InstanceData()
            inst.bboxes = torch.from_numpy(dets[:, :4]).float()
            inst.scores = torch.from_numpy(dets[:, 4]).float()
            inst.labels = torch.full((len(dets), ), self.label, dtype=torch.long)
            sample.pred_instances = inst
        return batch_data_samples

    def forward(self, inputs=None, data_samples=None, mode: str = 'predict'):
        if mode != 'predict':
            raise ValueError(f'HOGPersonDetector only predicts, got mode={mode!r}')
        return self.predict(inputs, data_samples)
