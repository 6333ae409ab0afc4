from .checkpoint import (CheckpointMismatchError, UnreadableCheckpointError,
                         load_state_dict_strict, read_checkpoint, save_new_checkpoint,
                         state_dict_from_checkpoint)
from .config import (CfgOptionsAction, load_runner_config, run_runner_loop,
                     setup_cpu_distributed, shutdown_distributed)
from .setup_env import register_all_modules, stdout_for_result

__all__ = [
    'CfgOptionsAction', 'CheckpointMismatchError', 'UnreadableCheckpointError',
    'load_runner_config', 'load_state_dict_strict', 'read_checkpoint', 'register_all_modules',
    'run_runner_loop', 'save_new_checkpoint', 'setup_cpu_distributed', 'shutdown_distributed',
    'state_dict_from_checkpoint', 'stdout_for_result'
]
