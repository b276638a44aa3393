"""Instruction finetuning: (instruction, source, summary) examples, loss on the summary only."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from medsum.models import load_model, load_tokenizer
from medsum.prompts import build_prompt
from medsum.records import Record
from train.config import TrainConfig
from train.loop import IGNORE_INDEX, Example, peak_rss_mb, train_loop
from train.pretrain import apply_lora, parameter_counts

logger = logging.getLogger(__name__)


def build_examples(
    tokenizer: Any, records: list[Record], config: TrainConfig
) -> tuple[list[Example], dict[str, int]]:
    """Tokenize prompt + summary; prompt tokens get label -100 so only the summary is learned.

    The summary is followed by the chat template's end-of-turn token, which teaches the model to
    stop. Returns the examples and counts of truncated sources and targets.
    """
    examples = []
    stats = {"records": 0, "skipped_without_summary": 0, "truncated_targets": 0}
    end_of_turn = tokenizer.eos_token_id
    for record in records:
        if not record.summary:
            stats["skipped_without_summary"] += 1
            continue
        prompt = build_prompt(
            tokenizer, record.task, record.text, record.section, config.max_source_tokens
        )
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        target_ids = tokenizer(record.summary.strip(), add_special_tokens=False)["input_ids"]
        room = min(config.max_target_tokens, config.max_seq_len - len(prompt_ids) - 1)
        if len(target_ids) > room:
            stats["truncated_targets"] += 1
            target_ids = target_ids[: max(room, 0)]
        target_ids = [*target_ids, end_of_turn]
        examples.append(
            Example(
                input_ids=prompt_ids + target_ids,
                labels=[IGNORE_INDEX] * len(prompt_ids) + target_ids,
            )
        )
        stats["records"] += 1
    return examples, stats


def run_finetune(
    records: list[Record],
    output_dir: Path,
    config: TrainConfig,
    base_model: str,
    *,
    pretrain_adapter: Path | None = None,
) -> dict[str, Any]:
    """Train a LoRA adapter for summarization, on top of the merged pretraining adapter if given."""
    started = time.perf_counter()
    output_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = load_tokenizer(base_model)
    examples, data_stats = build_examples(tokenizer, records, config)
    if not examples:
        raise ValueError(
            "no record has a reference summary; finetuning needs (source, summary) pairs"
        )
    logger.info("finetune data: %s", json.dumps(data_stats))

    # Merge the domain adapter into the full-precision base so that the new adapter trains on
    # (and is later served on top of) exactly those weights.
    model = load_model(base_model)
    if pretrain_adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(pretrain_adapter)).merge_and_unload()
    model = apply_lora(model, config)
    counts = parameter_counts(model)
    figures = train_loop(
        model, examples, config, output_dir, tokenizer.pad_token_id, stage="finetune"
    )
    metrics = {
        "stage": "finetune",
        **data_stats,
        "pretrain_adapter": str(pretrain_adapter) if pretrain_adapter else None,
        **counts,
        **figures,
        "duration_s": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "config": config.to_dict(),
    }
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics
