#!/usr/bin/env bash
# DDP finetuning with torchrun instead of accelerate: one process per GPU of this machine.
#   deploy/torchrun-ddp.sh configs/mts-dialog.yaml [GPUS]
set -euo pipefail
config="${1:?usage: deploy/torchrun-ddp.sh CONFIG [GPUS]}"
gpus="${2:-$(nvidia-smi --list-gpus | wc -l)}"
exec torchrun --nproc_per_node "$gpus" --master_addr 127.0.0.1 -m medsum.cli finetune \
    --config "$config"
