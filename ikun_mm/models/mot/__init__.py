from .fairmot import FairMOT
from .fairmot_head import FairMOTHead

__all__ = ['FairMOT', 'FairMOTHead']
