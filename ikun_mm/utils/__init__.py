from .config import (CfgOptionsAction, load_runner_config, setup_cpu_distributed,
                     shutdown_distributed)
from .setup_env import register_all_modules

__all__ = ['register_all_modules', 'CfgOptionsAction', 'load_runner_config',
           'setup_cpu_distributed', 'shutdown_distributed']
