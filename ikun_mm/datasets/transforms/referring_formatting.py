"""Packing a Refer-KITTI video for referring tracking (``tools/test.py`` on an RMOT config)."""
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement

from ikun_mm.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackReferringVideo(BaseTransform):
    """Pack one :class:`~ikun_mm.datasets.ReferKittiDataset` item for ``ReferringTracker``.

    Frames are not loaded here: the model reads the few it needs (iKUN's window frames, or every
    frame when the detector looks at pixels), so a long video never sits in memory as a tensor.

    Output: ``dict(inputs=[], data_samples=BaseDataElement)`` whose metainfo holds ``video``,
    ``img_paths``, ``img_size`` ((W, H)), ``num_frames``, ``sentences`` (the expressions to
    refer: results are keyed by them), ``texts`` (one per sentence: the text the referring model
    scores; the canonical text when the dataset maps ``synonyms``, else the sentence),
    ``expressions`` (:class:`~ikun_mm.datasets.Expression`, with the GT labels) and
    ``annotation`` (:class:`~ikun_mm.datasets.VideoAnnotation`) for the metric.
    """

    def transform(self, results: dict) -> dict:
        sentences = [e.sentence for e in results['expressions']]
        texts = list(results.get('texts') or sentences)
        if len(texts) != len(sentences):
            raise ValueError(f'{results["video"]}: {len(texts)} texts for {len(sentences)} '
                             'expressions')
        meta = dict(video=results['video'], img_paths=list(results['img_paths']),
                    img_size=tuple(results['img_size']), num_frames=len(results['img_paths']),
                    sentences=sentences, texts=texts,
                    expressions=list(results['expressions']),
                    annotation=results['annotation'])
        return dict(inputs=[], data_samples=BaseDataElement(metainfo=meta))
