from .calibration import SimilarityCalibration, positive_box_shares, pseudo_frequency
from .data_preprocessor import IKUNDataPreprocessor
from .encoders import (CLIPResNetBackbone, CLIPTextEncoder, IKUNVisualEncoder,
                       SentenceTransformerTextEncoder, TextFeatures, TinyConvBackbone)
from .ikun import IKUN
from .inference import TrackScores, score_tracks
from .kum import (CascadeAttentionKUM, CrossCorrelationKUM, KUMText, LocalGlobalFusion, NoTextKUM,
                  TextFirstKUM)
from .losses import CosineFocalLoss, cosine_focal_loss
from .official_weights import convert_official_state_dict, official_state_dict

__all__ = [
    'IKUN', 'IKUNDataPreprocessor', 'IKUNVisualEncoder', 'CLIPResNetBackbone',
    'TinyConvBackbone', 'CLIPTextEncoder', 'SentenceTransformerTextEncoder', 'TextFeatures',
    'CascadeAttentionKUM', 'CrossCorrelationKUM', 'TextFirstKUM', 'NoTextKUM',
    'LocalGlobalFusion', 'KUMText', 'convert_official_state_dict', 'official_state_dict',
    'CosineFocalLoss', 'cosine_focal_loss', 'SimilarityCalibration',
    'pseudo_frequency', 'positive_box_shares', 'score_tracks', 'TrackScores'
]
from .referring_tracker import (ReferringTracker, referred_rows,  # noqa: F401,E402
                                tracks_from_rows)
