"""Write the results page (markdown + JSON) from a finished pipeline run directory.

.venv/bin/python scripts/write_results.py runs/mts-dialog docs/results-mts-dialog
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def main(run_dir: Path, output_stem: Path) -> None:
    manifest = load(run_dir / "manifest.json")
    pretrain = load(run_dir / "pretrain" / "metrics.json")
    finetune = load(run_dir / "finetune" / "metrics.json")
    evaluation = load(run_dir / "evaluate" / "metrics.json")
    deid = {split: load(run_dir / "deid" / split / "report.json") for split in ("train", "eval")}
    figures = {
        "run_dir": str(run_dir),
        "config_path": manifest.get("config_path"),
        "machine": manifest.get("machine"),
        "libraries": manifest.get("libraries"),
        "inputs": manifest.get("inputs"),
        "stages": manifest.get("stages"),
        "deidentify": {k: v.get("entity_counts") for k, v in deid.items()},
        "pretrain": {k: v for k, v in pretrain.items() if k != "config"},
        "finetune": {k: v for k, v in finetune.items() if k != "config"},
        "pretrain_config": pretrain.get("config"),
        "finetune_config": finetune.get("config"),
        "evaluation": evaluation,
    }
    output_stem.parent.mkdir(parents=True, exist_ok=True)
    output_stem.with_suffix(".json").write_text(json.dumps(figures, indent=2))

    lines = [f"## Run `{run_dir.name}`", ""]
    if manifest.get("config_path"):
        lines += [f"Command: `medsum pipeline --config {manifest['config_path']}`", ""]
    lines += [
        "| variant | ROUGE-1 | ROUGE-2 | ROUGE-L | ROUGE-Lsum | ROUGE-1 95% CI |",
        "|---|---|---|---|---|---|",
    ]
    for name, variant in evaluation.get("variants", {}).items():
        rouge = variant["rouge"]
        low, high = rouge["rouge1_ci95"]
        lines.append(
            f"| {name} | {rouge['rouge1']:.2f} | {rouge['rouge2']:.2f} | {rouge['rougeL']:.2f} | "
            f"{rouge['rougeLsum']:.2f} | {low:.2f}-{high:.2f} |"
        )
    lines += [
        "",
        f"Held-out perplexity (de-identified MTS-Dialog text): {pretrain.get('perplexity_before')} "
        f"before domain adaptation, {pretrain.get('perplexity_after')} after.",
        "",
        "| stage | wall time (s) | peak RSS (MiB) | steps | seq. length | tokens/s |",
        "|---|---|---|---|---|---|",
    ]
    for name, stage in (manifest.get("stages") or {}).items():
        metrics = {"pretrain": pretrain, "finetune": finetune}.get(name, {})
        config = metrics.get("config", {})
        lines.append(
            f"| {name} | {stage.get('duration_s')} | {stage.get('peak_rss_mb')} | "
            f"{metrics.get('steps', '')} | {config.get('max_seq_len', '')} | "
            f"{metrics.get('tokens_per_s', '')} |"
        )
    output_stem.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
