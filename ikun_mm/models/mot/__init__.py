from .fairmot import FairMOT
from .fairmot_head import FairMOTHead
from .fairmot_pretrained import load_official_fairmot

__all__ = ['FairMOT', 'FairMOTHead', 'load_official_fairmot']
