
from .sot import *  # noqa: F401,F403
