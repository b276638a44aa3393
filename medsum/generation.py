"""Batched greedy generation with a causal LM, shared by evaluation and the HTTP service."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings; recorded beside every score so results can be reproduced."""

    max_new_tokens: int = 200
    batch_size: int = 8
    # Small models trained briefly fall into loops; blocking repeated trigrams stops them.
    no_repeat_ngram_size: int = 3
    repetition_penalty: float = 1.0


@torch.inference_mode()
def generate(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    settings: GenerationSettings = GenerationSettings(),
) -> tuple[list[str], dict[str, float]]:
    """Generate one completion per prompt; returns the texts and throughput figures."""
    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    outputs: list[str] = [""] * len(prompts)
    # Sorting by prompt length keeps left padding small within each batch.
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    started = time.perf_counter()
    new_tokens = 0
    for start in range(0, len(order), settings.batch_size):
        indices = order[start : start + settings.batch_size]
        batch = tokenizer(
            [prompts[i] for i in indices],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        ).to(device)
        generated = model.generate(
            **batch,
            max_new_tokens=settings.max_new_tokens,
            do_sample=False,
            no_repeat_ngram_size=settings.no_repeat_ngram_size or None,
            repetition_penalty=settings.repetition_penalty,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        completions = generated[:, batch["input_ids"].shape[1] :]
        for row, index in enumerate(indices):
            tokens = completions[row]
            tokens = tokens[tokens != tokenizer.pad_token_id]
            new_tokens += int(tokens.numel())
            outputs[index] = tokenizer.decode(tokens, skip_special_tokens=True).strip()
    elapsed = time.perf_counter() - started
    stats = {
        "prompts": len(prompts),
        "new_tokens": new_tokens,
        "seconds": round(elapsed, 2),
        "new_tokens_per_s": round(new_tokens / elapsed, 2) if elapsed else 0.0,
    }
    return outputs, stats
