from .calibration import SimilarityCalibration, box_shares, merge_shares, pseudo_frequency
from .data_preprocessor import IKUNDataPreprocessor
from .encoders import (CLIPResNetBackbone, CLIPTextEncoder, IKUNVisualEncoder,
                       SentenceTransformerTextEncoder, TextFeatures, TinyConvBackbone)
from .ikun import IKUN
from .inference import TrackScores, score_tracks
from .kum import (CascadeAttentionKUM, CrossCorrelationKUM, KUMText, LocalGlobalFusion, NoTextKUM,
                  TextFirstKUM)
from .losses import CosineFocalLoss, cosine_focal_loss
from .official_weights import convert_official_state_dict, official_state_dict
from .referring_tracker import (ReferringTracker, prepare_referring, referred_rows,
                                tracks_from_rows)

__all__ = [
    'CLIPResNetBackbone', 'CLIPTextEncoder', 'CascadeAttentionKUM', 'CosineFocalLoss',
    'CrossCorrelationKUM', 'IKUN', 'IKUNDataPreprocessor', 'IKUNVisualEncoder', 'KUMText',
    'LocalGlobalFusion', 'NoTextKUM', 'ReferringTracker', 'SentenceTransformerTextEncoder',
    'SimilarityCalibration', 'TextFeatures', 'TextFirstKUM', 'TinyConvBackbone', 'TrackScores',
    'box_shares', 'convert_official_state_dict', 'cosine_focal_loss', 'merge_shares',
    'official_state_dict', 'prepare_referring', 'pseudo_frequency', 'referred_rows',
    'score_tracks', 'tracks_from_rows'
]
