"""Instruction finetuning: (instruction, source, summary) examples, loss on the summary only."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medsum.models import load_tokenizer
from medsum.prompts import build_prompt
from medsum.records import Record
from train.config import TrainConfig
from train.loop import IGNORE_INDEX, Example, peak_rss_mb, train_loop
from train.methods import parameter_counts, prepare_model

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


def split_validation(
    records: list[Record], config: TrainConfig
) -> tuple[list[Record], list[Record]]:
    """Hold out `eval_samples` records with summaries for validation when evaluation is on."""
    if not config.eval_every:
        return records, []
    with_summary = [i for i, r in enumerate(records) if r.summary]
    if len(with_summary) <= config.eval_samples:
        raise ValueError(
            f"validation needs more than eval_samples={config.eval_samples} records with "
            f"summaries, found {len(with_summary)}; lower eval_samples or unset eval_every"
        )
    chosen = set(random.Random(config.seed).sample(with_summary, config.eval_samples))
    train = [r for i, r in enumerate(records) if i not in chosen]
    validation = [r for i, r in enumerate(records) if i in chosen]
    return train, validation


def rouge_l_validator(
    tokenizer: Any, validation: list[Record], config: TrainConfig
) -> Callable[[Any], float]:
    """Return a function that generates for the validation records and scores mean ROUGE-L F1."""
    from eval.rouge import per_example_f1
    from medsum.generation import GenerationSettings, generate

    prompts = [
        build_prompt(tokenizer, r.task, r.text, r.section, config.max_source_tokens)
        for r in validation
    ]
    references = [r.summary or "" for r in validation]
    settings = GenerationSettings(max_new_tokens=config.eval_max_new_tokens, batch_size=8)

    def validate(model: Any) -> float:
        model.eval()
        predictions, _ = generate(model, tokenizer, prompts, settings)
        # per_example_f1 reports F1 x 100; the validation score is on a 0-1 scale.
        values = per_example_f1(predictions, references)["rougeL"]
        return sum(values) / len(values) / 100

    return validate


def run_finetune(
    records: list[Record],
    output_dir: Path,
    config: TrainConfig,
    base_model: str,
    *,
    pretrain_adapter: Path | None = None,
) -> dict[str, Any]:
    """Finetune for summarization by `config.method`, on top of the pretraining adapter if given.

    Writes `adapter/` (lora, qlora) or `model/` (full, partial), `history.json` and
    `metrics.json` into `output_dir`.
    """
    started = time.perf_counter()
    output_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = load_tokenizer(base_model)
    train_records, validation = split_validation(records, config)
    examples, data_stats = build_examples(tokenizer, train_records, config)
    if not examples:
        raise ValueError(
            "no record has a reference summary; finetuning needs (source, summary) pairs"
        )
    data_stats["validation_records"] = len(validation)
    logger.info("finetune data: %s", json.dumps(data_stats))

    model = prepare_model(
        base_model, config, pretrain_adapter=pretrain_adapter, work_dir=output_dir
    )
    counts = parameter_counts(model)
    logger.info(
        "finetune method %s: %d of %d parameters trainable",
        config.method,
        counts["trainable_parameters"],
        counts["total_parameters"],
    )
    validate = rouge_l_validator(tokenizer, validation, config) if validation else None
    figures = train_loop(
        model,
        examples,
        config,
        output_dir,
        tokenizer.pad_token_id,
        stage="finetune",
        evaluate=validate,
        tokenizer=tokenizer,
    )
    metrics = {
        "stage": "finetune",
        "method": config.method,
        "chain": config.chain if pretrain_adapter else None,
        **data_stats,
        "pretrain_adapter": str(pretrain_adapter) if pretrain_adapter else None,
        **counts,
        **figures,
        "duration_s": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "config": config.to_dict(),
    }
    # Under DDP/FSDP every rank returns figures; only the rank that saved the model writes.
    if figures["saved_to"]:
        (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics
