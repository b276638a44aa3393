"""Run the stages in order, each in its own process, and write the run manifest.

A separate process per stage gives each stage an honest peak-memory figure and returns its
memory to the system before the next stage starts. The manifest (`manifest.json` in the run
directory) records the configuration, input hashes, library versions, seed and per-stage
durations and peak memory.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from medsum.config import PipelineConfig
from medsum.stages import STAGES, run_dir

logger = logging.getLogger(__name__)

LIBRARIES = [
    "torch", "transformers", "peft", "accelerate", "gguf", "spacy", "presidio-analyzer",
    "presidio-anonymizer", "rouge-score", "fastapi", "sqlalchemy", "cryptography",
]  # fmt: skip


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def run_pipeline(config: PipelineConfig, config_path: Path | None) -> dict[str, Any]:
    """Run every stage not yet finished; returns the manifest."""
    root = run_dir(config)
    root.mkdir(parents=True, exist_ok=True)
    manifest_path = root / "manifest.json"
    manifest: dict[str, Any] = (
        json.loads(manifest_path.read_text()) if manifest_path.exists() else {"stages": {}}
    )
    manifest.update(
        {
            "config": config.to_dict(),
            "config_path": str(config_path) if config_path else None,
            "seed": config.seed,
            "libraries": library_versions(),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        }
    )
    for name, (_, done_marker) in STAGES.items():
        if name == "pretrain" and not config.pretrain_enabled:
            continue
        if (root / done_marker).exists():
            logger.info("stage %s already finished; skipping", name)
            continue
        command = [sys.executable, "-m", "medsum", name, "--run-dir", str(root)]
        if config_path is not None:
            command += ["--config", str(config_path)]
        started = time.perf_counter()
        completed = subprocess.run(command, check=False)
        record = {
            "duration_s": round(time.perf_counter() - started, 1),
            "exit_code": completed.returncode,
        }
        figures = root / "stages" / f"{name}.json"
        if figures.exists():
            record.update(json.loads(figures.read_text()))
        manifest["stages"][name] = record
        manifest_path.write_text(json.dumps(manifest, indent=2))
        if completed.returncode != 0:
            raise RuntimeError(
                f"stage {name} failed with exit code {completed.returncode}; fix the error above "
                f"and rerun the same command to resume from this stage"
            )
    inputs = {}
    for split in ("train", "eval"):
        report = root / "deid" / split / "report.json"
        if report.exists():
            inputs[split] = json.loads(report.read_text()).get("input")
    manifest["inputs"] = inputs
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return manifest
