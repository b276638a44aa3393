"""Domain-adaptive pretraining: causal-LM training with LoRA on de-identified clinical text.

Each document is tokenized, ended with the EOS token and cut into blocks of `max_seq_len` tokens.
A block never holds tokens of two documents, so no token attends across a document boundary; the
price is a short last block per document, which length-grouped batching keeps cheap.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from pathlib import Path
from typing import Any

from medsum.models import load_model, load_tokenizer
from medsum.records import Record
from train.config import TrainConfig
from train.loop import Example, mean_loss, peak_rss_mb, train_loop

logger = logging.getLogger(__name__)


def document_blocks(tokenizer: Any, texts: list[str], block: int) -> list[Example]:
    """Cut each document into blocks of at most `block` tokens, one document per block."""
    examples = []
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        for start in range(0, len(ids), block):
            chunk = ids[start : start + block]
            if len(chunk) > 1:
                examples.append(Example(input_ids=chunk, labels=list(chunk)))
    return examples


def documents(records: list[Record]) -> list[str]:
    """Training text of each record: the source, then its reference summary when present."""
    return [r.text + ("\n\n" + r.summary if r.summary else "") for r in records]


def apply_lora(model: Any, config: TrainConfig) -> Any:
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.target_modules,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def parameter_counts(model: Any) -> dict[str, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable_parameters": trainable, "total_parameters": total}


def run_pretrain(
    records: list[Record], output_dir: Path, config: TrainConfig, base_model: str
) -> dict[str, Any]:
    """Train a LoRA adapter on the records' text; writes `adapter/` and `metrics.json`."""
    started = time.perf_counter()
    output_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = load_tokenizer(base_model)
    texts = documents(records)
    random.Random(config.seed).shuffle(texts)
    heldout_count = max(1, int(len(texts) * config.heldout_fraction)) if len(texts) > 1 else 0
    heldout = document_blocks(tokenizer, texts[:heldout_count], config.max_seq_len)
    heldout = heldout[: config.max_heldout_blocks]
    train = document_blocks(tokenizer, texts[heldout_count:], config.max_seq_len)
    if not train:
        raise ValueError("no training text left after the held-out split; add more records")
    logger.info(
        "pretrain data: %d train blocks, %d held-out blocks (%.1fs)",
        len(train),
        len(heldout),
        time.perf_counter() - started,
    )

    model = load_model(base_model)
    loss_before = mean_loss(model, heldout, tokenizer.pad_token_id) if heldout else float("nan")
    model = apply_lora(model, config)
    counts = parameter_counts(model)
    figures = train_loop(model, train, config, output_dir, tokenizer.pad_token_id, stage="pretrain")
    loss_after = mean_loss(model, heldout, tokenizer.pad_token_id) if heldout else float("nan")

    metrics = {
        "stage": "pretrain",
        "train_blocks": len(train),
        "heldout_blocks": len(heldout),
        "heldout_documents": heldout_count,
        "block_tokens": config.max_seq_len,
        "cross_document_attention": False,
        "perplexity_before": round(math.exp(loss_before), 3),
        "perplexity_after": round(math.exp(loss_after), 3),
        **counts,
        **figures,
        "duration_s": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "config": config.to_dict(),
    }
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    logger.info(
        "pretrain held-out perplexity %.2f -> %.2f",
        metrics["perplexity_before"],
        metrics["perplexity_after"],
    )
    return metrics
