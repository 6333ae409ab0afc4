from .config import load_runner_config, setup_cpu_distributed, shutdown_distributed
from .setup_env import register_all_modules

__all__ = ['register_all_modules', 'load_runner_config', 'setup_cpu_distributed',
           'shutdown_distributed']
