
from .referring import *  # noqa: F401,F403
