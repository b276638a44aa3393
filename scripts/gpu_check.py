"""Check the GPU training path end to end in a few minutes: bf16 LoRA, QLoRA, generation.

    python scripts/gpu_check.py --output gpu-check.json

Each check trains a few steps on generated records (made-up dialogues, no real patient text)
with the default base model, then reloads the result and generates once. The JSON output holds,
per check, whether it passed, its error if not, the seconds taken, the final loss and the
peak GPU memory. The exit status is 0 only when every check passed. A check that needs a missing
piece (no CUDA device, no bitsandbytes) fails with that reason rather than being skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import torch


def environment() -> dict[str, Any]:
    info: dict[str, Any] = {"torch": torch.__version__, "cuda": torch.cuda.is_available()}
    if info["cuda"]:
        info["device"] = torch.cuda.get_device_name(0)
        info["bf16_supported"] = torch.cuda.is_bf16_supported()
    try:
        import bitsandbytes

        info["bitsandbytes"] = bitsandbytes.__version__
    except ImportError:
        info["bitsandbytes"] = None
    return info


def train_and_generate(method: str, work: Path, steps: int) -> dict[str, Any]:
    from medsum.generation import GenerationSettings, generate
    from medsum.models import DEFAULT_BASE_MODEL, load_model, load_tokenizer
    from medsum.prompts import build_prompt
    from medsum.synthetic import generate_corpus
    from train.config import TrainConfig
    from train.finetune import run_finetune

    if not torch.cuda.is_available():
        raise RuntimeError("no CUDA device is visible to torch")
    records = generate_corpus(32, seed=0)
    config = TrainConfig(
        method=method, max_steps=steps, batch_size=4, grad_accum=1, max_seq_len=512,
        log_every=1, checkpoint_every=1000, bf16_autocast=True,
    )  # fmt: skip
    torch.cuda.reset_peak_memory_stats()
    metrics = run_finetune(records, work / method, config, DEFAULT_BASE_MODEL)
    tokenizer = load_tokenizer()
    model = load_model(adapters=[work / method / "adapter"], device="cuda", dtype="bfloat16")
    prompt = build_prompt(tokenizer, records[0].task, records[0].text, records[0].section, 512)
    outputs, stats = generate(model, tokenizer, [prompt], GenerationSettings(max_new_tokens=32))
    return {
        "final_loss": metrics["final_loss"],
        "tokens_per_s": metrics["tokens_per_s"],
        "trainable_parameters": metrics["trainable_parameters"],
        "generated_tokens": stats["new_tokens"],
        "generated_nonempty": bool(outputs[0]),
        "peak_gpu_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("gpu-check.json"))
    parser.add_argument("--steps", type=int, default=5, help="optimizer steps per check")
    args = parser.parse_args()

    report: dict[str, Any] = {"environment": environment(), "checks": {}}
    with tempfile.TemporaryDirectory() as folder:
        for method in ("lora", "qlora"):
            started = time.perf_counter()
            try:
                result = {"passed": True, **train_and_generate(method, Path(folder), args.steps)}
            except Exception as error:  # every failure goes into the report
                result = {
                    "passed": False,
                    "error": f"{type(error).__name__}: {error}",
                    "traceback": traceback.format_exc(limit=5),
                }
            result["seconds"] = round(time.perf_counter() - started, 1)
            report["checks"][method] = result
            print(json.dumps({method: result}, indent=2), flush=True)
    args.output.write_text(json.dumps(report, indent=2))
    return 0 if all(check["passed"] for check in report["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
