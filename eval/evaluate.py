"""Generation-based evaluation of one or more model variants on a held-out split."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from eval.rouge import RougeSettings, per_example_f1, score_rouge
from medsum.generation import GenerationSettings, generate
from medsum.models import load_model, load_tokenizer
from medsum.prompts import build_prompt
from medsum.records import Record

logger = logging.getLogger(__name__)


def lead_words(text: str, count: int = 60) -> str:
    """Return the first `count` words with speaker tags removed (a copy baseline)."""
    words = [w for w in text.split() if not w.endswith(":") and not w.startswith("[")]
    return " ".join(words[:count])


def evaluate_variants(
    sources: list[Record],
    references: list[str],
    variants: dict[str, list[Path] | tuple[str, list[Path]]],
    output_dir: Path,
    *,
    base_model: str,
    generation: GenerationSettings = GenerationSettings(),
    rouge: RougeSettings = RougeSettings(),
    max_source_tokens: int = 512,
    restore: Any = None,
) -> dict[str, Any]:
    """Generate with each variant and score ROUGE.

    A variant is a list of adapters on `base_model`, or a (model, adapters) pair for a variant
    with its own model folder (full or partial finetuning).

    `sources` are the de-identified inputs the model sees; `references` are the original
    summaries. `restore(index, text)` re-identifies an output before scoring, as the service
    would for a caller allowed to see PHI. Each variant's de-identified predictions are saved,
    and a variant whose predictions file exists is not generated again, so an interrupted run
    resumes.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = load_tokenizer(base_model)
    prompts = [
        build_prompt(tokenizer, r.task, r.text, r.section, max_source_tokens) for r in sources
    ]
    results: dict[str, Any] = {
        "examples": len(sources),
        "rouge_settings": rouge.to_json(),
        "generation_settings": asdict(generation),
        "variants": {},
    }
    lead = [lead_words(r.text) for r in sources]
    if restore is not None:
        lead = [restore(i, text) for i, text in enumerate(lead)]
    results["variants"]["lead_60_words"] = {"rouge": score_rouge(lead, references), "adapters": []}

    for name, variant in variants.items():
        variant_base, adapters = variant if isinstance(variant, tuple) else (base_model, variant)
        predictions_path = output_dir / f"predictions-{name}.jsonl"
        started = time.perf_counter()
        if predictions_path.exists():
            rows = [json.loads(line) for line in predictions_path.open(encoding="utf-8")]
            predictions = [row["prediction"] for row in rows]
            stats = json.loads((output_dir / f"generation-{name}.json").read_text())
            logger.info("evaluate %s: reusing %d saved predictions", name, len(predictions))
        else:
            model = load_model(variant_base, adapters=adapters)
            predictions, stats = generate(model, tokenizer, prompts, generation)
            del model
            partial = predictions_path.with_suffix(".partial")
            with partial.open("w", encoding="utf-8") as handle:
                for record, prediction in zip(sources, predictions, strict=True):
                    handle.write(json.dumps({"id": record.id, "prediction": prediction}) + "\n")
            partial.replace(predictions_path)
            (output_dir / f"generation-{name}.json").write_text(json.dumps(stats))
        # Saved predictions stay de-identified; originals are restored in memory for scoring only.
        if restore is not None:
            predictions = [restore(i, text) for i, text in enumerate(predictions)]
        scores = score_rouge(predictions, references, rouge)
        # Per-example F1 (numbers only) lets two runs be compared with a paired bootstrap.
        per_example = per_example_f1(predictions, references, rouge)
        (output_dir / f"per-example-{name}.json").write_text(json.dumps(per_example))
        results["variants"][name] = {
            "rouge": scores,
            "model": str(variant_base),
            "adapters": [str(a) for a in adapters],
            "generation": stats,
            "duration_s": round(time.perf_counter() - started, 1),
        }
        logger.info(
            "evaluate %s: ROUGE-1 %.2f ROUGE-2 %.2f ROUGE-L %.2f ROUGE-Lsum %.2f",
            name,
            scores["rouge1"],
            scores["rouge2"],
            scores["rougeL"],
            scores["rougeLsum"],
        )
    (output_dir / "metrics.json").write_text(json.dumps(results, indent=2))
    (output_dir / "report.md").write_text(render_report(results))
    return results


def render_report(results: dict[str, Any]) -> str:
    lines = [
        "# Evaluation report",
        "",
        f"Examples: {results['examples']}. ROUGE: {results['rouge_settings']['aggregation']}, "
        f"stemming {'on' if results['rouge_settings']['use_stemmer'] else 'off'}, "
        f"{results['rouge_settings']['package']}. Decoding: greedy, "
        f"max {results['generation_settings']['max_new_tokens']} new tokens, "
        f"no repeated {results['generation_settings']['no_repeat_ngram_size']}-grams.",
        "",
        "| variant | ROUGE-1 | ROUGE-2 | ROUGE-L | ROUGE-Lsum | ROUGE-1 95% CI | tokens/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, variant in results["variants"].items():
        rouge = variant["rouge"]
        speed = variant.get("generation", {}).get("new_tokens_per_s", "")
        low, high = rouge["rouge1_ci95"]
        lines.append(
            f"| {name} | {rouge['rouge1']:.2f} | {rouge['rouge2']:.2f} | {rouge['rougeL']:.2f} | "
            f"{rouge['rougeLsum']:.2f} | {low:.2f}-{high:.2f} | {speed} |"
        )
    return "\n".join(lines) + "\n"
