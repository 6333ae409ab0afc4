#!/usr/bin/env bash
# Distributed test on one machine: bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [args...]
# On a machine without GPUs the processes use the gloo backend on CPU (set in the config's
# env_cfg.dist_cfg; default_runtime picks gloo when CUDA is unavailable).
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
HERE=$(dirname "$0")

PYTHONPATH="$HERE/..":$PYTHONPATH \
python -m torch.distributed.run \
    --nnodes=$NNODES --node_rank=$NODE_RANK --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS --master_port=$PORT \
    "$HERE/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
