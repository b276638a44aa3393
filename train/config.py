"""Training settings shared by both stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class TrainConfig:
    """One training stage. Steps win over epochs when both are set."""

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
    # bf16 autocast keeps fp32 master weights; it speeds up CPUs with AVX-512 BF16 and GPUs.
    bf16_autocast: bool = True
    log_every: int = 10
    checkpoint_every: int = 50
    seed: int = 0
    heldout_fraction: float = 0.05
    max_heldout_blocks: int = 64

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
