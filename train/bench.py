"""Training throughput: naive padding versus length-grouped batches versus packed rows.

All three modes train the same LoRA model (same initialization, batch size and step count) on the
same documents and count real tokens per second, that is, tokens that are not padding:

- `padded`: one document per row, every row padded to `seq_len` (the naive baseline);
- `grouped`: one document per row, rows of similar length batched together and padded only to
  the longest row of their batch, so no token attends across a document boundary;
- `packed`: documents packed end to end into full `seq_len` rows with no padding, and a
  block-diagonal attention mask with per-document position ids, so documents stay apart (what
  medsum's pretraining does);
- `packed_cross`: the same rows with a plain causal mask, so attention crosses document
  boundaries inside a row (the common shortcut, shown for its cost).
"""

from __future__ import annotations

import json
import logging
import random
import time
from pathlib import Path
from typing import Any

import torch

from medsum.models import load_model, load_tokenizer
from train.config import TrainConfig
from train.loop import (
    Example,
    collate,
    make_batches,
    pack_documents,
    peak_rss_mb,
    supervised_loss,
)
from train.pretrain import apply_lora

logger = logging.getLogger(__name__)
MODES = ("padded", "grouped", "packed", "packed_cross")


def _document_rows(tokenizer: Any, texts: list[str], seq_len: int) -> list[list[int]]:
    rows: list[list[int]] = []
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        rows.extend(ids[start : start + seq_len] for start in range(0, len(ids), seq_len))
    return [row for row in rows if len(row) > 1]


def build_batches(
    mode: str, rows: list[list[int]], seq_len: int, batch_size: int, steps: int, pad_id: int
) -> list[list[Example]]:
    """Return `steps` batches for `mode`, cycling through the data when it runs out."""
    if mode in ("packed", "packed_cross"):
        examples = pack_documents(rows, seq_len)
        if mode == "packed_cross":
            examples = [Example(e.input_ids, list(e.input_ids)) for e in examples]
        batches = [examples[i : i + batch_size] for i in range(0, len(examples), batch_size)]
    elif mode == "grouped":
        batches = make_batches([Example(r, list(r)) for r in rows], batch_size, seed=0)
    elif mode == "padded":
        shuffled = list(rows)
        random.Random(0).shuffle(shuffled)
        padded = [
            Example(r + [pad_id] * (seq_len - len(r)), r + [-100] * (seq_len - len(r)))
            for r in shuffled
        ]
        batches = [padded[i : i + batch_size] for i in range(0, len(padded), batch_size)]
    else:
        raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
    return [batches[i % len(batches)] for i in range(steps)]


def run_mode(
    mode: str,
    rows: list[list[int]],
    *,
    steps: int,
    seq_len: int,
    batch_size: int,
    base_model: str,
    pad_id: int,
) -> dict[str, Any]:
    torch.manual_seed(0)
    config = TrainConfig(batch_size=batch_size, max_seq_len=seq_len)
    model = apply_lora(load_model(base_model), config)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    batches = build_batches(mode, rows, seq_len, batch_size, steps + 1, pad_id)

    # The first step warms up allocators and kernels and is not timed.
    timed_tokens = 0
    started = 0.0
    for index, batch in enumerate(batches):
        if index == 1:
            started = time.perf_counter()
        tensors = collate(batch, pad_id)
        if mode == "padded":
            # collate pads to the longest row; the naive baseline already padded to seq_len.
            tensors["attention_mask"] = (tensors["labels"] != -100).long()
            tensors["attention_mask"][:, 0] = 1
        loss, _ = supervised_loss(model, tensors, bf16=config.bf16_autocast)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if index >= 1:
            # Padded rows carry -100 labels exactly on their padding; other rows are unpadded.
            if mode == "padded":
                timed_tokens += int((tensors["labels"] != -100).sum())
            else:
                timed_tokens += sum(len(example.input_ids) for example in batch)
    elapsed = time.perf_counter() - started
    return {
        "mode": mode,
        "steps": steps,
        "real_tokens": timed_tokens,
        "seconds": round(elapsed, 2),
        "real_tokens_per_s": round(timed_tokens / elapsed, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def bench_train(
    texts: list[str], output: Path, *, steps: int, seq_len: int, batch_size: int, base_model: str
) -> dict[str, Any]:
    """Run every mode and write `output.json` and `output.md`."""
    tokenizer = load_tokenizer(base_model)
    rows = _document_rows(tokenizer, texts, seq_len)
    results = {
        mode: run_mode(
            mode,
            rows,
            steps=steps,
            seq_len=seq_len,
            batch_size=batch_size,
            base_model=base_model,
            pad_id=tokenizer.pad_token_id,
        )
        for mode in MODES
    }
    for mode in MODES:
        logger.info("bench train %s: %s", mode, json.dumps(results[mode]))
    baseline = results["padded"]["real_tokens_per_s"]
    report = {
        "documents": len(texts),
        "seq_len": seq_len,
        "batch_size": batch_size,
        "steps": steps,
        "torch_threads": torch.get_num_threads(),
        "modes": results,
        "ratio_grouped_vs_padded": round(results["grouped"]["real_tokens_per_s"] / baseline, 2),
        "ratio_packed_vs_padded": round(results["packed"]["real_tokens_per_s"] / baseline, 2),
        "ratio_packed_cross_vs_padded": round(
            results["packed_cross"]["real_tokens_per_s"] / baseline, 2
        ),
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps(report, indent=2))
    lines = [
        f"Training throughput, {steps} timed steps, batch {batch_size}, sequence length {seq_len}, "
        f"{torch.get_num_threads()} threads.",
        "",
        "| mode | real tokens/s | ratio to padded |",
        "|---|---|---|",
    ]
    for mode in MODES:
        speed = results[mode]["real_tokens_per_s"]
        lines.append(f"| {mode} | {speed} | {speed / baseline:.2f} |")
    output.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return report
