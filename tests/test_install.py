"""Install smoke test: the pinned stack imports and its compiled parts work on CPU."""
import torch


def test_mmcv_ops_run_on_cpu():
    from mmcv.ops import nms
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    _, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]


def test_torchvision_ops_match_torch():
    import torchvision
    boxes = torch.tensor([[0, 0, 10, 10], [5, 5, 15, 15]], dtype=torch.float32)
    iou = torchvision.ops.box_iou(boxes, boxes)
    assert torch.allclose(iou[0, 1], torch.tensor(25 / 175))


def test_versions_are_the_pinned_ones():
    import mmcv
    import mmdet
    import mmengine
    assert mmcv.__version__ == '2.1.0'
    assert mmdet.__version__ == '3.3.0'
    assert mmengine.__version__ == '0.10.7'
    assert torch.__version__.split('+')[0] == '2.13.0'


def test_open_clip_tokenizer_works_offline():
    import open_clip
    tokens = open_clip.get_tokenizer('RN50')(['cars moving left'])
    assert tokens.shape == (1, 77) and int(tokens[0, 0]) == 49406  # start-of-text token


def test_trackeval_imports():
    import trackeval
    assert hasattr(trackeval.metrics, 'HOTA')
