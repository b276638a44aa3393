"""Domain-adaptive pretraining and instruction finetuning with LoRA adapters."""

from train.config import TrainConfig
from train.finetune import run_finetune
from train.pretrain import run_pretrain

__all__ = ["TrainConfig", "run_finetune", "run_pretrain"]
