from .backbones import *  # noqa: F401,F403
from .detectors import *  # noqa: F401,F403
from .mot import *  # noqa: F401,F403
from .motion import *  # noqa: F401,F403
from .referring import *  # noqa: F401,F403
from .reid import *  # noqa: F401,F403
from .sot import *  # noqa: F401,F403
from .trackers import *  # noqa: F401,F403
