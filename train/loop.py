"""The training loop shared by both stages: batches, optimizer, schedule, logging, checkpoints.

Examples are token id lists with labels (-100 where no loss is taken). Batches group examples
of similar length, so little compute goes to padding, and each batch is checked to contain at
least one supervised token. The adapter is checkpointed every `checkpoint_every` optimizer steps
with the optimizer state and step count, and a run restarted on the same output directory resumes
from the last checkpoint.
"""

from __future__ import annotations

import json
import logging
import math
import random
import resource
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from train.config import TrainConfig

logger = logging.getLogger(__name__)
IGNORE_INDEX = -100


class NoSupervisedTokensError(RuntimeError):
    """Raised when a batch has no token that contributes to the loss."""


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_batches(examples: list[Example], batch_size: int, seed: int) -> list[list[Example]]:
    """Group examples of similar length into batches, then shuffle the batch order."""
    rng = random.Random(seed)
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i].input_ids), rng.random()))
    batches = [
        [examples[i] for i in order[start : start + batch_size]]
        for start in range(0, len(order), batch_size)
    ]
    rng.shuffle(batches)
    return batches


def collate(batch: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(e.input_ids) for e in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    for row, example in enumerate(batch):
        length = len(example.input_ids)
        input_ids[row, :length] = torch.tensor(example.input_ids)
        labels[row, :length] = torch.tensor(example.labels)
        attention[row, :length] = 1
    if not bool((labels != IGNORE_INDEX).any()):
        raise NoSupervisedTokensError(
            "a training batch has no supervised token; every target was truncated away. "
            "Raise max_seq_len or lower max_source_tokens."
        )
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention}


def supervised_loss(
    model: Any, tensors: dict[str, torch.Tensor], *, bf16: bool, reduction: str = "mean"
) -> tuple[torch.Tensor, int]:
    """Cross-entropy over the supervised positions only; returns (loss, supervised tokens).

    The LM head (576 x 49,152 for SmolLM2-135M) is applied only where a label exists, instead of
    to every position as the model's own loss does. With the prompt masked, that skips most of
    the head's compute and the full-vocabulary logits' memory (1.6x faster per step together
    with bf16 autocast, measured on a 2-core AVX-512 CPU with 4 x 256-token batches).
    """
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    device_type = tensors["input_ids"].device.type
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
        hidden = causal_lm.model(
            input_ids=tensors["input_ids"], attention_mask=tensors["attention_mask"]
        ).last_hidden_state
        targets = tensors["labels"][:, 1:]
        selected = targets != IGNORE_INDEX
        logits = causal_lm.lm_head(hidden[:, :-1][selected])
    count = int(selected.sum())
    loss = torch.nn.functional.cross_entropy(logits.float(), targets[selected], reduction=reduction)
    return loss, count


@torch.no_grad()
def mean_loss(model: Any, examples: list[Example], pad_id: int, batch_size: int = 8) -> float:
    """Token-weighted mean cross-entropy over `examples` (perplexity is exp of this)."""
    model.eval()
    total_loss = 0.0
    total_tokens = 0
    for batch in make_batches(examples, batch_size, seed=0):
        tensors = collate(batch, pad_id)
        loss, count = supervised_loss(model, tensors, bf16=False, reduction="sum")
        total_loss += float(loss)
        total_tokens += count
    return total_loss / max(total_tokens, 1)


def _lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train_loop(
    model: Any,
    examples: list[Example],
    config: TrainConfig,
    output_dir: Path,
    pad_id: int,
    *,
    stage: str,
) -> dict[str, Any]:
    """Train the trainable parameters of `model` on `examples`; returns the stage's figures."""
    torch.manual_seed(config.seed)
    batches_per_epoch = math.ceil(len(examples) / config.batch_size)
    steps_per_epoch = max(1, batches_per_epoch // config.grad_accum)
    total_steps = config.max_steps or max(1, round(config.epochs * steps_per_epoch))
    warmup = max(1, int(config.warmup_ratio * total_steps))
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        parameters, lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _lr_factor(step, total_steps, warmup)
    )

    checkpoint = output_dir / "checkpoint"
    step = 0
    if (checkpoint / "state.pt").exists():
        state = torch.load(checkpoint / "state.pt", weights_only=False)
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(model, state["adapter"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = state["step"]
        logger.info("%s: resuming from checkpoint at step %d of %d", stage, step, total_steps)

    # One flat schedule of batches across epochs, each epoch shuffled with its own seed.
    schedule: list[list[Example]] = []
    epoch = 0
    while len(schedule) < total_steps * config.grad_accum:
        schedule.extend(make_batches(examples, config.batch_size, seed=config.seed + epoch))
        epoch += 1

    model.train()
    started = time.perf_counter()
    real_tokens = 0
    supervised_tokens = 0
    window_loss = 0.0
    window_count = 0
    history = []
    while step < total_steps:
        optimizer.zero_grad(set_to_none=True)
        for micro in range(config.grad_accum):
            tensors = collate(schedule[step * config.grad_accum + micro], pad_id)
            loss, _ = supervised_loss(model, tensors, bf16=config.bf16_autocast)
            (loss / config.grad_accum).backward()
            window_loss += loss.item()
            window_count += 1
            real_tokens += int(tensors["attention_mask"].sum())
            supervised_tokens += int((tensors["labels"] != IGNORE_INDEX).sum())
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        scheduler.step()
        step += 1

        if step % config.log_every == 0 or step == total_steps:
            elapsed = time.perf_counter() - started
            entry = {
                "step": step,
                "loss": round(window_loss / window_count, 4),
                "lr": scheduler.get_last_lr()[0],
                "tokens_per_s": round(real_tokens / elapsed, 1),
                "elapsed_s": round(elapsed, 1),
            }
            history.append(entry)
            logger.info("%s step %d/%d %s", stage, step, total_steps, json.dumps(entry))
            window_loss, window_count = 0.0, 0
        if step % config.checkpoint_every == 0 and step < total_steps:
            _save_checkpoint(model, optimizer, scheduler, step, checkpoint)

    elapsed = time.perf_counter() - started
    model.save_pretrained(output_dir / "adapter")
    shutil.rmtree(checkpoint, ignore_errors=True)
    (output_dir / "history.json").write_text(json.dumps(history, indent=1))
    return {
        "steps": total_steps,
        "train_seconds": round(elapsed, 1),
        "tokens_seen_this_run": real_tokens,
        "supervised_tokens_this_run": supervised_tokens,
        "tokens_per_s": round(real_tokens / elapsed, 1) if elapsed else 0.0,
        "final_loss": history[-1]["loss"] if history else None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def _save_checkpoint(model: Any, optimizer: Any, scheduler: Any, step: int, path: Path) -> None:
    from peft import get_peft_model_state_dict

    path.mkdir(parents=True, exist_ok=True)
    state = {
        "adapter": get_peft_model_state_dict(model),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "step": step,
    }
    torch.save(state, path / "state.pt.partial")
    (path / "state.pt.partial").replace(path / "state.pt")
