from .config import (CfgOptionsAction, load_runner_config, setup_cpu_distributed,
                     shutdown_distributed)
from .setup_env import register_all_modules

__all__ = [
    'CfgOptionsAction', 'load_runner_config', 'register_all_modules', 'setup_cpu_distributed',
    'shutdown_distributed'
]
