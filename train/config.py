"""Training settings shared by both stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

# lora: low-rank adapters on a frozen full-precision base (the default; servable by vLLM).
# qlora: the same adapters on a 4-bit NF4 base (CUDA and bitsandbytes only).
# full: every weight trains. partial: only the last `partial_last_layers` decoder layers and,
# with `partial_norms`, every normalization layer train.
METHODS = ("lora", "qlora", "full", "partial")
# Ways to build finetuning on the pretraining adapter: merge it into the full-precision base
# first, or stack it as a frozen adapter under the new one.
CHAINS = ("merge", "stack")


@dataclass
class TrainConfig:
    """One training stage. Steps win over epochs when both are set."""

    method: str = "lora"
    chain: str = "merge"
    learning_rate: float = 5e-4
    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 4
    grad_accum: int = 2
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    max_seq_len: int = 512
    max_source_tokens: int = 512
    max_target_tokens: int = 256
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: list(ALL_LINEAR))
    partial_last_layers: int = 4
    partial_norms: bool = True
    # bf16 autocast keeps fp32 master weights; it speeds up CPUs with AVX-512 BF16 and GPUs.
    bf16_autocast: bool = True
    log_every: int = 10
    checkpoint_every: int = 50
    seed: int = 0
    # Domain-adaptive pretraining packs documents end to end into full blocks, with attention
    # and position ids kept within each document. False gives one document per block instead.
    packing: bool = True
    heldout_fraction: float = 0.05
    max_heldout_blocks: int = 64
    # Generation-based validation during finetuning: every `eval_every` optimizer steps, generate
    # for `eval_samples` held-out training records and score ROUGE-L; stop after
    # `early_stopping_patience` evaluations without improvement and keep the best weights.
    eval_every: int | None = None
    eval_samples: int = 16
    eval_max_new_tokens: int = 96
    early_stopping_patience: int | None = None
    # Domain-adaptive pretraining only: a UTF-8 text file (one document per blank-line-separated
    # paragraph) of general text mixed in to limit forgetting, as a share of training blocks.
    general_text: str | None = None
    general_fraction: float = 0.0

    def __post_init__(self) -> None:
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.batch_size < 1 or self.grad_accum < 1:
            raise ValueError(
                f"batch_size and grad_accum must be >= 1, got {self.batch_size}, {self.grad_accum}"
            )
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1 or unset, got {self.max_steps}")
        if self.epochs <= 0:
            raise ValueError(f"epochs must be positive, got {self.epochs}")
        if self.max_seq_len < 16:
            raise ValueError(f"max_seq_len must be at least 16 tokens, got {self.max_seq_len}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}, got {self.method!r}")
        if self.chain not in CHAINS:
            raise ValueError(f"chain must be one of {list(CHAINS)}, got {self.chain!r}")
        if self.partial_last_layers < 0:
            raise ValueError(f"partial_last_layers must be >= 0, got {self.partial_last_layers}")
        if self.eval_every is not None and self.eval_every < 1:
            raise ValueError(f"eval_every must be >= 1 or unset, got {self.eval_every}")
        if self.early_stopping_patience is not None and self.eval_every is None:
            raise ValueError("early_stopping_patience needs eval_every (evaluation steps)")
        if not 0 <= self.general_fraction < 1:
            raise ValueError(f"general_fraction must be in [0, 1), got {self.general_fraction}")
        if self.general_fraction > 0 and not self.general_text:
            raise ValueError("general_fraction > 0 needs general_text (a path to a text file)")
        if not 0 <= self.heldout_fraction < 1:
            raise ValueError(f"heldout_fraction must be in [0, 1), got {self.heldout_fraction}")

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> TrainConfig:
        values = dict(values or {})
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(
                f"unknown training option(s) {unknown}; valid options: "
                f"{sorted(cls.__dataclass_fields__)}"
            )
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
