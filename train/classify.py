"""Supervised finetuning for classification: the MTS-Dialog section header of a dialogue.

A sequence-classification head (one logit per section code, read at the last non-padding
token) sits on the base model; LoRA adapters on the linear layers and the new head train with
cross-entropy. The same training loop as the other stages runs it (checkpoints, resume,
distributed ranks): each example's class id is stored as the label of its last token.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from medsum.models import load_tokenizer, resolve_base_model
from medsum.prompts import SECTION_NAMES
from medsum.records import Record
from train.config import TrainConfig
from train.loop import IGNORE_INDEX, Example, peak_rss_mb, train_loop
from train.methods import parameter_counts

logger = logging.getLogger(__name__)
LABELS = sorted(SECTION_NAMES)


def classification_prompt(tokenizer: Any, dialogue: str, max_source_tokens: int) -> list[int]:
    """Token ids of the dialogue (cut at `max_source_tokens`) followed by a fixed question."""
    dialogue_ids = tokenizer(dialogue.strip(), add_special_tokens=False)["input_ids"]
    question = tokenizer(
        "\n\nWhich section of the clinical note does this conversation belong to?",
        add_special_tokens=False,
    )["input_ids"]
    return [*dialogue_ids[:max_source_tokens], *question]


def build_classification_examples(
    tokenizer: Any, records: list[Record], config: TrainConfig
) -> tuple[list[Example], dict[str, int]]:
    """Build one example per record with a known section code, labelling its last token."""
    examples = []
    skipped = 0
    for record in records:
        if record.section not in LABELS:
            skipped += 1
            continue
        ids = classification_prompt(tokenizer, record.text, config.max_source_tokens)
        labels = [IGNORE_INDEX] * (len(ids) - 1) + [LABELS.index(record.section)]
        examples.append(Example(input_ids=ids, labels=labels))
    return examples, {"records": len(examples), "skipped_unknown_section": skipped}


def classification_loss(
    model: Any, tensors: dict[str, torch.Tensor], *, bf16: bool
) -> tuple[torch.Tensor, int]:
    device_type = tensors["input_ids"].device.type
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
        logits = model(
            input_ids=tensors["input_ids"], attention_mask=tensors["attention_mask"]
        ).logits
    targets = tensors["labels"].max(dim=1).values
    return torch.nn.functional.cross_entropy(logits.float(), targets), int(targets.numel())


def load_classifier(base_model: str, adapter: Path | None = None) -> Any:
    from transformers import AutoModelForSequenceClassification

    tokenizer = load_tokenizer(base_model)
    model = AutoModelForSequenceClassification.from_pretrained(
        resolve_base_model(base_model),
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
        pad_token_id=tokenizer.pad_token_id,
        dtype="float32",
    )
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    return model


def add_classification_adapter(model: Any, config: TrainConfig) -> Any:
    from peft import LoraConfig, get_peft_model

    # SEQ_CLS makes PEFT train and save the new classification head beside the adapters.
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.target_modules,
        task_type="SEQ_CLS",
    )
    return get_peft_model(model, lora)


@torch.no_grad()
def predict_sections(
    model: Any, tokenizer: Any, records: list[Record], config: TrainConfig, batch_size: int = 16
) -> list[str]:
    """Predicted section code per record, in order."""
    model.eval()
    device = next(model.parameters()).device
    prompts = [classification_prompt(tokenizer, r.text, config.max_source_tokens) for r in records]
    predictions: list[str] = [""] * len(records)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        width = max(len(prompts[i]) for i in indices)
        # Right padding: the head reads the last non-padding token of each row.
        input_ids = torch.full((len(indices), width), tokenizer.pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(indices), width), dtype=torch.long)
        for row, index in enumerate(indices):
            input_ids[row, : len(prompts[index])] = torch.tensor(prompts[index])
            attention[row, : len(prompts[index])] = 1
        logits = model(input_ids=input_ids.to(device), attention_mask=attention.to(device)).logits
        for row, index in enumerate(indices):
            predictions[index] = LABELS[int(logits[row].argmax())]
    return predictions


def classification_scores(gold: list[str], predicted: list[str]) -> dict[str, Any]:
    """Accuracy and macro-F1 over the classes present in gold or predictions, plus per class."""
    if len(gold) != len(predicted) or not gold:
        raise ValueError("gold and predicted labels must be non-empty lists of equal length")
    classes = sorted(set(gold) | set(predicted))
    per_class = {}
    for label in classes:
        true_positive = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        predicted_count = sum(p == label for p in predicted)
        gold_count = sum(g == label for g in gold)
        precision = true_positive / predicted_count if predicted_count else 0.0
        recall = true_positive / gold_count if gold_count else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"f1": round(f1, 4), "support": gold_count}
    accuracy = sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)
    macro = sum(entry["f1"] for entry in per_class.values()) / len(per_class)
    return {
        "examples": len(gold),
        "accuracy": round(accuracy, 4),
        "macro_f1": round(macro, 4),
        "per_class": per_class,
    }


def run_section_classification(
    train_records: list[Record],
    test_records: list[Record],
    output_dir: Path,
    config: TrainConfig,
    base_model: str,
) -> dict[str, Any]:
    """Train the section classifier, score it on `test_records`, write `metrics.json`."""
    started = time.perf_counter()
    output_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = load_tokenizer(base_model)
    examples, data_stats = build_classification_examples(tokenizer, train_records, config)
    if not examples:
        raise ValueError("no training record has a known MTS-Dialog section code")
    logger.info("classification data: %s", json.dumps(data_stats))
    model = add_classification_adapter(load_classifier(base_model), config)
    counts = parameter_counts(model)
    figures = train_loop(
        model,
        examples,
        config,
        output_dir,
        tokenizer.pad_token_id,
        stage="classify",
        loss_fn=classification_loss,
    )
    gold = [r.section or "" for r in test_records]
    predicted = predict_sections(model, tokenizer, test_records, config)
    majority = Counter(r.section for r in train_records).most_common(1)[0][0] or ""
    metrics = {
        "stage": "classify",
        **data_stats,
        **counts,
        **figures,
        "test": classification_scores(gold, predicted),
        "majority_class_baseline": classification_scores(gold, [majority] * len(gold)),
        "duration_s": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "config": config.to_dict(),
    }
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    logger.info(
        "section classification: accuracy %.3f, macro-F1 %.3f on %d test records",
        metrics["test"]["accuracy"],
        metrics["test"]["macro_f1"],
        len(gold),
    )
    return metrics
