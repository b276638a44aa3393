"""Domain-adaptive pretraining: causal-LM training with LoRA on de-identified clinical text.

Each document is tokenized and ended with the EOS token. With `packing` (the default) documents
are packed end to end into full blocks of `max_seq_len` tokens, and a block-diagonal attention
mask with per-document position ids keeps them apart: no token attends across a document
boundary, and no block is padded. Without packing each block holds one document, and the short
last block of each document is padded (length-grouped batching keeps that cheap).
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from pathlib import Path
from typing import Any

from medsum.models import load_tokenizer
from medsum.records import Record
from train.config import TrainConfig
from train.loop import Example, mean_loss, pack_documents, peak_rss_mb, train_loop
from train.methods import ADAPTER_METHODS, lora_config, parameter_counts, prepare_model

logger = logging.getLogger(__name__)


def tokenize_documents(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    """Token ids of each document, ended with the EOS token."""
    return [
        tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        for text in texts
    ]


def document_blocks(tokenizer: Any, texts: list[str], block: int) -> list[Example]:
    """Cut each document into blocks of at most `block` tokens, one document per block."""
    examples = []
    for ids in tokenize_documents(tokenizer, texts):
        for start in range(0, len(ids), block):
            chunk = ids[start : start + block]
            if len(chunk) > 1:
                examples.append(Example(input_ids=chunk, labels=list(chunk)))
    return examples


def documents(records: list[Record]) -> list[str]:
    """Training text of each record: the source, then its reference summary when present."""
    return [r.text + ("\n\n" + r.summary if r.summary else "") for r in records]


def apply_lora(model: Any, config: TrainConfig) -> Any:
    from peft import get_peft_model

    return get_peft_model(model, lora_config(config))


def training_blocks(tokenizer: Any, texts: list[str], config: TrainConfig) -> list[Example]:
    """Blocks of `texts`: packed with documents kept apart, or one document per block."""
    if config.packing:
        return pack_documents(tokenize_documents(tokenizer, texts), config.max_seq_len)
    return document_blocks(tokenizer, texts, config.max_seq_len)


def general_blocks(config: TrainConfig, tokenizer: Any, domain_blocks: int) -> list[Example]:
    """Blocks of general text making up `general_fraction` of the mixed training set."""
    if not config.general_text or config.general_fraction <= 0:
        return []
    path = Path(config.general_text)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(
            f"cannot read general_text {path} ({type(error).__name__}); "
            "it must be a readable UTF-8 text file"
        ) from None
    paragraphs = [part.strip() for part in text.split("\n\n") if part.strip()]
    if not paragraphs:
        raise ValueError(f"general_text {path} has no text; remove the option or fill the file")
    blocks = training_blocks(tokenizer, paragraphs, config)
    wanted = round(domain_blocks * config.general_fraction / (1 - config.general_fraction))
    random.Random(config.seed).shuffle(blocks)
    # Repeat the general blocks when the file is shorter than the requested share.
    return [blocks[i % len(blocks)] for i in range(wanted)]


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
    train = training_blocks(tokenizer, texts[heldout_count:], config)
    if not train:
        raise ValueError("no training text left after the held-out split; add more records")
    domain_count = len(train)
    train += general_blocks(config, tokenizer, domain_count)
    logger.info(
        "pretrain data: %d train blocks, %d held-out blocks (%.1fs)",
        len(train),
        len(heldout),
        time.perf_counter() - started,
    )

    if config.method not in ADAPTER_METHODS:
        raise ValueError(
            f"domain-adaptive pretraining trains an adapter (method lora or qlora), "
            f"not {config.method!r}; set pretrain.method to lora"
        )
    model = prepare_model(base_model, config)
    # A fresh LoRA adapter starts with B = 0, so this is the base model's held-out loss.
    loss_before = mean_loss(model, heldout, tokenizer.pad_token_id) if heldout else math.nan
    counts = parameter_counts(model)
    figures = train_loop(model, train, config, output_dir, tokenizer.pad_token_id, stage="pretrain")
    loss_after = mean_loss(model, heldout, tokenizer.pad_token_id) if heldout else float("nan")

    metrics = {
        "stage": "pretrain",
        "train_blocks": domain_count,
        "general_blocks": len(train) - domain_count,
        "heldout_blocks": len(heldout),
        "heldout_documents": heldout_count,
        "block_tokens": config.max_seq_len,
        "packing": config.packing,
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
