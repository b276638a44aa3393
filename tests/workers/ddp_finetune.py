"""One rank of a two-process DDP finetuning run on the CPU (gloo), started by torchrun.

Writes rank<N>.json with the number of processes the loop saw and a checksum of the trained
adapter weights, so the test can check that both ranks ended with identical weights.
"""

import json
import os
import sys
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from medsum.models import load_tokenizer
from medsum.records import Record
from train.config import TrainConfig
from train.finetune import build_examples
from train.loop import train_loop
from train.pretrain import apply_lora


def main() -> None:
    output = Path(sys.argv[1])
    tokenizer = load_tokenizer()
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
            num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
            tie_word_embeddings=True,
        )
    )  # fmt: skip
    config = TrainConfig(
        max_steps=3, batch_size=2, grad_accum=1, bf16_autocast=False, lora_dropout=0.0,
        checkpoint_every=100,
    )  # fmt: skip
    records = [
        Record(
            id=str(i),
            text=f"Doctor: What brings you in, visit {i}?\nPatient: A cough.",
            summary=f"Cough for {i} days.",
            task="section",
            section="CC",
        )
        for i in range(8)
    ]
    examples, _ = build_examples(tokenizer, records, config)
    model = apply_lora(model, config)
    figures = train_loop(model, examples, config, output, tokenizer.pad_token_id, stage="ddp")
    checksum = sum(
        float(p.detach().double().abs().sum()) for p in model.parameters() if p.requires_grad
    )
    rank = int(os.environ.get("RANK", "0"))
    (output / f"rank{rank}.json").write_text(
        json.dumps({"processes": figures["processes"], "checksum": checksum})
    )


if __name__ == "__main__":
    main()
