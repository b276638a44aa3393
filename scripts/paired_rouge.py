"""Paired bootstrap of the ROUGE difference between the finetuned variants of two runs.

Both runs must have evaluated the same de-identified eval split with the same keys. Predictions
are re-identified in memory exactly as the evaluate stage does, then scored per example.

    python scripts/paired_rouge.py configs/mts-dialog-full.yaml configs/mts-dialog.yaml
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from deidentify import reidentify
from eval.rouge import paired_bootstrap_difference, per_example_f1
from medsum.config import load_config
from medsum.stages import eval_split


def per_example_scores(config_path: Path, variant: str) -> dict[str, list[float]]:
    config = load_config(config_path)
    sources, references, mappings = eval_split(config)
    path = Path(config.run_dir) / "evaluate" / f"predictions-{variant}.jsonl"
    rows = {row["id"]: row["prediction"] for row in map(json.loads, path.open(encoding="utf-8"))}
    predictions = [
        reidentify(rows[record.id], mapping)
        for record, mapping in zip(sources, mappings, strict=True)
    ]
    return per_example_f1(predictions, references)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path, help="pipeline config of the first run")
    parser.add_argument("second", type=Path, help="pipeline config of the second run")
    parser.add_argument("--variant", default="finetuned", help="variant name in both runs")
    args = parser.parse_args()
    first = per_example_scores(args.first, args.variant)
    second = per_example_scores(args.second, args.variant)
    result = {
        name: paired_bootstrap_difference(first[name], second[name])
        for name in ("rouge1", "rougeL")
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
