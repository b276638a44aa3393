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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from train.config import TrainConfig
from train.methods import load_trainable_state, save_trained, trainable_state

logger = logging.getLogger(__name__)
IGNORE_INDEX = -100


class NoSupervisedTokensError(RuntimeError):
    """Raised when a batch has no token that contributes to the loss."""


@dataclass
class Example:
    """Token ids and labels (-100: no loss). `segments` are the lengths of the documents packed
    into this row, in order; a row with segments attends only within each document."""

    input_ids: list[int]
    labels: list[int]
    segments: list[int] | None = None


def pack_documents(documents: list[list[int]], block: int) -> list[Example]:
    """Pack token lists end to end into rows of `block` tokens, keeping documents apart.

    A document longer than the space left in a row continues in the next row. Each row records
    its document segments, so `collate` builds a block-diagonal causal mask and restarts the
    position ids per document: no token attends to, or is predicted from, another document.
    Only the last row can be shorter than `block`.
    """
    rows: list[Example] = []
    ids: list[int] = []
    labels: list[int] = []
    segments: list[int] = []
    for document in documents:
        position = 0
        while position < len(document):
            take = min(block - len(ids), len(document) - position)
            piece = document[position : position + take]
            # The first token of a segment is never a target: the previous token is another
            # document (or the row start).
            labels.extend([IGNORE_INDEX, *piece[1:]])
            ids.extend(piece)
            segments.append(take)
            position += take
            if len(ids) == block:
                rows.append(Example(ids, labels, segments))
                ids, labels, segments = [], [], []
    if len(ids) > 1:
        rows.append(Example(ids, labels, segments))
    return rows


def _segment_tensors(example: Example, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Block-diagonal causal mask (width x width, bool) and per-document position ids."""
    segment_ids = torch.full((width,), -1, dtype=torch.long)
    positions = torch.zeros(width, dtype=torch.long)
    start = 0
    for index, length in enumerate(example.segments or [len(example.input_ids)]):
        segment_ids[start : start + length] = index
        positions[start : start + length] = torch.arange(length)
        start += length
    same = segment_ids[:, None] == segment_ids[None, :]
    mask = torch.tril(torch.ones(width, width, dtype=torch.bool)) & same
    # Padding positions attend to themselves only, so no attention row is empty.
    mask |= torch.eye(width, dtype=torch.bool)
    return mask, positions


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
    if any(example.segments for example in batch):
        masks, positions = zip(*(_segment_tensors(e, width) for e in batch), strict=True)
        if not bool((labels != IGNORE_INDEX).any()):
            raise NoSupervisedTokensError("a packed training batch has no supervised token")
        return {
            "input_ids": input_ids,
            "labels": labels,
            "attention_mask": torch.stack(masks)[:, None],
            "position_ids": torch.stack(positions),
        }
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
            input_ids=tensors["input_ids"],
            attention_mask=tensors["attention_mask"],
            position_ids=tensors.get("position_ids"),
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
    device = next(model.parameters()).device
    total_loss = 0.0
    total_tokens = 0
    for batch in make_batches(examples, batch_size, seed=0):
        tensors = {k: v.to(device) for k, v in collate(batch, pad_id).items()}
        loss, count = supervised_loss(model, tensors, bf16=False, reduction="sum")
        total_loss += float(loss)
        total_tokens += count
    return total_loss / max(total_tokens, 1)


def _lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


# (model, batch tensors, bf16=...) -> (mean loss, supervised count); causal-LM loss by default.
LossFn = Callable[..., tuple[torch.Tensor, int]]


class SupervisedLossModule(torch.nn.Module):
    """Wraps a causal LM so that its forward returns (loss, supervised tokens).

    DDP and FSDP hook into the forward of the module they wrap, so the loss has to be computed
    inside a forward rather than by reaching into the model from outside.
    """

    def __init__(self, model: Any, bf16: bool, loss_fn: LossFn | None = None) -> None:
        super().__init__()
        self.model = model
        self.bf16 = bf16
        self.loss_fn = loss_fn or supervised_loss

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor,
        position_ids: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, int]:
        tensors = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
        if position_ids is not None:
            tensors["position_ids"] = position_ids
        return self.loss_fn(self.model, tensors, bf16=self.bf16)


EvaluateFn = Callable[[Any], float]


def train_loop(
    model: Any,
    examples: list[Example],
    config: TrainConfig,
    output_dir: Path,
    pad_id: int,
    *,
    stage: str,
    evaluate: EvaluateFn | None = None,
    tokenizer: Any = None,
    loss_fn: LossFn | None = None,
) -> dict[str, Any]:
    """Train the trainable parameters of `model` on `examples`; returns the stage's figures.

    Runs as one process on a CPU or GPU, or as one rank of an `accelerate launch`/`torchrun`
    job (DDP or FSDP): each rank takes its own micro-batches from the same seeded schedule.
    `evaluate(model)` returns a score where higher is better. It is called every
    `config.eval_every` steps and at the last step, and the best weights are kept. Training stops
    early after `config.early_stopping_patience` evaluations without improvement.
    """
    from accelerate import Accelerator, DistributedType

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    world = accelerator.num_processes
    rank = accelerator.process_index
    torch.manual_seed(config.seed)
    batches_per_epoch = math.ceil(len(examples) / config.batch_size)
    steps_per_epoch = max(1, batches_per_epoch // (config.grad_accum * world))
    total_steps = config.max_steps or max(1, round(config.epochs * steps_per_epoch))
    warmup = max(1, int(config.warmup_ratio * total_steps))

    wrapper = SupervisedLossModule(model, config.bf16_autocast, loss_fn)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        parameters, lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _lr_factor(step, total_steps, warmup)
    )
    wrapped, optimizer = accelerator.prepare(wrapper, optimizer)

    checkpoint = output_dir / "checkpoint"
    step = 0
    tracker = _BestTracker(config.early_stopping_patience)
    if (checkpoint / "state.pt").exists():
        state = torch.load(checkpoint / "state.pt", weights_only=False, map_location="cpu")
        load_trainable_state(model, state["trainable"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        tracker.load(state.get("best", {}))
        step = state["step"]
        logger.info("%s: resuming from checkpoint at step %d of %d", stage, step, total_steps)

    # One flat schedule of batches across epochs, each epoch shuffled with its own seed.
    needed = total_steps * config.grad_accum * world
    schedule: list[list[Example]] = []
    epoch = 0
    while len(schedule) < needed:
        schedule.extend(make_batches(examples, config.batch_size, seed=config.seed + epoch))
        epoch += 1

    wrapped.train()
    started = time.perf_counter()
    real_tokens = 0
    supervised_tokens = 0
    window_loss = 0.0
    window_count = 0
    history: list[dict[str, Any]] = []
    stopped_early = False
    while step < total_steps:
        optimizer.zero_grad(set_to_none=True)
        for micro in range(config.grad_accum):
            batch = schedule[(step * config.grad_accum + micro) * world + rank]
            tensors = {k: v.to(accelerator.device) for k, v in collate(batch, pad_id).items()}
            real_tokens += sum(len(example.input_ids) for example in batch)
            loss, _ = wrapped(**tensors)
            accelerator.backward(loss / config.grad_accum)
            window_loss += loss.item()
            window_count += 1
            supervised_tokens += int((tensors["labels"] != IGNORE_INDEX).sum())
        accelerator.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        scheduler.step()
        step += 1

        if step == 1 or step % config.log_every == 0 or step == total_steps:
            elapsed = time.perf_counter() - started
            entry = {
                "step": step,
                "loss": round(window_loss / window_count, 4),
                "lr": scheduler.get_last_lr()[0],
                "tokens_per_s": round(real_tokens * world / elapsed, 1),
                "elapsed_s": round(elapsed, 1),
            }
            history.append(entry)
            if accelerator.is_main_process:
                logger.info("%s step %d/%d %s", stage, step, total_steps, json.dumps(entry))
            window_loss, window_count = 0.0, 0
        # The last step is always evaluated too, so the weights kept at the end were scored.
        evaluation_step = step % (config.eval_every or 1) == 0 or step == total_steps
        if evaluate is not None and config.eval_every and evaluation_step:
            # Every rank evaluates the same sample, so all reach the same stopping decision.
            score = evaluate(model)
            wrapped.train()
            improved = tracker.update(score, step, model)
            history.append({"step": step, "eval_score": round(score, 4), "improved": improved})
            logger.info("%s step %d validation score %.4f", stage, step, score)
            if tracker.should_stop():
                logger.info(
                    "%s: no improvement for %d evaluations; stopping at step %d, best step %d",
                    stage,
                    tracker.evaluations_without_improvement,
                    step,
                    tracker.best_step,
                )
                stopped_early = True
                break
        if step % config.checkpoint_every == 0 and step < total_steps:
            if accelerator.is_main_process:
                _save_checkpoint(model, optimizer, scheduler, step, checkpoint, tracker)
            accelerator.wait_for_everyone()

    elapsed = time.perf_counter() - started
    if tracker.best_state is not None and tracker.best_step != step:
        logger.info("%s: restoring the weights of step %d", stage, tracker.best_step)
        load_trainable_state(model, tracker.best_state)
    saved_to = None
    full_state = None
    if accelerator.distributed_type == DistributedType.FSDP:
        # FSDP shards the parameters; gathering the full state dict is a collective call.
        gathered = accelerator.get_state_dict(wrapped)
        full_state = {name.removeprefix("model."): value for name, value in gathered.items()}
    if accelerator.is_main_process:
        # Full and partial finetuning save a whole model folder, which needs the tokenizer.
        saved_to = save_trained(model, config, output_dir, tokenizer, state_dict=full_state)
        shutil.rmtree(checkpoint, ignore_errors=True)
        (output_dir / "history.json").write_text(json.dumps(history, indent=1))
    accelerator.wait_for_everyone()
    losses = [entry["loss"] for entry in history if "loss" in entry]
    return {
        "steps": step,
        "planned_steps": total_steps,
        "processes": world,
        "stopped_early": stopped_early,
        "best_step": tracker.best_step,
        "best_eval_score": tracker.best_score,
        "train_seconds": round(elapsed, 1),
        "tokens_seen_this_run": real_tokens * world,
        "supervised_tokens_this_run": supervised_tokens * world,
        "tokens_per_s": round(real_tokens * world / elapsed, 1) if elapsed else 0.0,
        "final_loss": losses[-1] if losses else None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "saved_to": str(saved_to) if saved_to else None,
    }


class _BestTracker:
    """Best validation score so far, its step and weights, and evaluations since it improved."""

    def __init__(self, patience: int | None) -> None:
        self.patience = patience
        self.best_score: float | None = None
        self.best_step: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.evaluations_without_improvement = 0

    def update(self, score: float, step: int, model: Any) -> bool:
        if self.best_score is None or score > self.best_score:
            self.best_score = score
            self.best_step = step
            self.best_state = trainable_state(model)
            self.evaluations_without_improvement = 0
            return True
        self.evaluations_without_improvement += 1
        return False

    def should_stop(self) -> bool:
        return self.patience is not None and self.evaluations_without_improvement >= self.patience

    def to_state(self) -> dict[str, Any]:
        return {
            "score": self.best_score,
            "step": self.best_step,
            "weights": self.best_state,
            "without_improvement": self.evaluations_without_improvement,
        }

    def load(self, state: dict[str, Any]) -> None:
        self.best_score = state.get("score")
        self.best_step = state.get("step")
        self.best_state = state.get("weights")
        self.evaluations_without_improvement = state.get("without_improvement", 0)


def _save_checkpoint(
    model: Any, optimizer: Any, scheduler: Any, step: int, path: Path, tracker: _BestTracker
) -> None:
    path.mkdir(parents=True, exist_ok=True)
    state = {
        "trainable": trainable_state(model),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "step": step,
        "best": tracker.to_state(),
    }
    torch.save(state, path / "state.pt.partial")
    (path / "state.pt.partial").replace(path / "state.pt")
