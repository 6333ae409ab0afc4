
from .motion import *  # noqa: F401,F403
from .trackers import *  # noqa: F401,F403
from .detectors import *  # noqa: F401,F403
from .referring import *  # noqa: F401,F403
