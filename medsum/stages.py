"""Each pipeline stage as a function of the configuration; the CLI and the pipeline call these.

All outputs of a run go under `config.run_dir`:
    deid/train, deid/eval   de-identified records, traces, vaults, reports
    pretrain/               domain adapter, perplexity before and after
    finetune/               summarization adapter
    evaluate/               predictions, metrics.json, report.md
A stage whose `metrics.json` (or de-identification report) exists is skipped, so rerunning the
pipeline resumes after the last finished stage.
"""

from __future__ import annotations

import hashlib
import json
import logging
import resource
import time
from pathlib import Path
from typing import Any

from medsum.config import DataSpec, PipelineConfig
from medsum.keys import KeyStore
from medsum.records import Record, load_records

logger = logging.getLogger(__name__)


def run_dir(config: PipelineConfig) -> Path:
    return Path(config.run_dir)


def load_split(spec: DataSpec, seed: int) -> list[Record]:
    records = load_records(
        spec.source,
        spec.resolved_path(),
        mapping=spec.mapping(),
        seed=seed,
        synthetic_count=spec.synthetic_count,
    )
    end = None if spec.limit is None else spec.offset + spec.limit
    return records[spec.offset : end]


def input_fingerprint(spec: DataSpec, records: list[Record]) -> dict[str, Any]:
    """Hash of the input file (or of the generated corpus), for the manifest."""
    path = spec.resolved_path()
    if path is not None and path.is_file():
        from medsum.records import sha256_file

        return {"path": str(path), "sha256": sha256_file(path), "rows_used": len(records)}
    digest = hashlib.sha256()
    for record in records:
        digest.update(json.dumps(record.to_json(), sort_keys=True).encode())
    return {"source": spec.source, "sha256": digest.hexdigest(), "rows_used": len(records)}


def stage_deidentify(config: PipelineConfig) -> dict[str, Any]:
    from deidentify import Deidentifier
    from deidentify.batch import available_cores
    from deidentify.corpus import deidentify_corpus
    from deidentify.resume import check_resume_keys

    keys = KeyStore.open()
    keys.ensure_outside(run_dir(config))
    splits = (
        ("train", config.train_data, config.seed),
        ("eval", config.eval_data, config.seed + 1),
    )
    # A split resumed under another HMAC key fails here, before the slow analyzer set-up.
    for split, spec, _ in splits:
        if not spec.already_deidentified:
            check_resume_keys(run_dir(config) / "deid" / split, keys)
    deid = Deidentifier.create(keys, **config.deidentify)
    reports = {}
    for split, spec, seed in splits:
        records = load_split(spec, seed)
        if spec.already_deidentified:
            report = copy_declared_deidentified(records, run_dir(config) / "deid" / split)
        else:
            report = deidentify_corpus(
                records, run_dir(config) / "deid" / split, deid, workers=available_cores()
            )
        report["input"] = input_fingerprint(spec, records)
        (run_dir(config) / "deid" / split / "report.json").write_text(json.dumps(report, indent=2))
        reports[split] = report
    return reports


def copy_declared_deidentified(records: list[Record], output_dir: Path) -> dict[str, Any]:
    """Write records declared as already de-identified, unchanged, with a report that records it."""
    output_dir.mkdir(parents=True, exist_ok=True)
    partial = output_dir / "records.jsonl.partial"
    with partial.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
    partial.replace(output_dir / "records.jsonl")
    logger.warning(
        "%d training records declared already de-identified; medsum did not check them",
        len(records),
    )
    return {"records": len(records), "declared_already_deidentified": True}


def stage_pretrain(config: PipelineConfig) -> dict[str, Any]:
    from deidentify.corpus import load_deidentified
    from train import TrainConfig, run_pretrain

    records = load_deidentified(run_dir(config) / "deid" / "train")
    options = {"seed": config.seed, "max_seq_len": 256, **config.pretrain}
    return run_pretrain(
        records, run_dir(config) / "pretrain", TrainConfig.from_dict(options), config.base_model
    )


def stage_finetune(config: PipelineConfig) -> dict[str, Any]:
    from deidentify.corpus import load_deidentified
    from train import TrainConfig, run_finetune

    records = load_deidentified(run_dir(config) / "deid" / "train")
    options = {"seed": config.seed, "max_seq_len": 1024, **config.finetune}
    pretrain_adapter = run_dir(config) / "pretrain" / "adapter"
    return run_finetune(
        records,
        run_dir(config) / "finetune",
        TrainConfig.from_dict(options),
        config.base_model,
        pretrain_adapter=pretrain_adapter if config.pretrain_enabled else None,
    )


def eval_split(config: PipelineConfig) -> tuple[list[Record], list[str], list[dict[str, str]]]:
    """Load the de-identified eval records, their original references and vault mappings.

    The references stay in memory only; the mappings re-identify outputs before scoring.
    """
    from deidentify import Vault
    from deidentify.corpus import load_deidentified
    from deidentify.resume import check_resume_keys
    from deidentify.surrogates import SurrogateGenerator

    deid_dir = run_dir(config) / "deid" / "eval"
    sources = load_deidentified(deid_dir)
    keys = KeyStore.open()
    check_resume_keys(deid_dir, keys)
    keyed = SurrogateGenerator(keys.hmac_key)
    # De-identified records carry keyed ids; key the original split the same way to pair them.
    originals = {keyed.record_key(r.id): r for r in load_split(config.eval_data, config.seed + 1)}
    missing = sum(r.id not in originals for r in sources)
    if missing:
        raise RuntimeError(
            f"{missing} de-identified eval records have no original in the configured eval "
            "split; the eval data or MEDSUM_KEY_DIR changed since `medsum deidentify` ran"
        )
    references = [originals[r.id].summary or "" for r in sources]

    vault = Vault(deid_dir / "vault.sqlite", keys)
    mappings = [vault.get(r.id) for r in sources]
    vault.close()
    return sources, references, mappings


def stage_evaluate(config: PipelineConfig) -> dict[str, Any]:
    from deidentify import reidentify
    from eval.evaluate import evaluate_variants
    from medsum.generation import GenerationSettings

    sources, references, mappings = eval_split(config)

    def restore(index: int, text: str) -> str:
        return reidentify(text, mappings[index])

    options = dict(config.evaluate)
    max_source_tokens = int(options.pop("max_source_tokens", 512))
    generation = GenerationSettings(**options)
    return evaluate_variants(
        sources,
        references,
        {"base_zero_shot": [], "finetuned": finetuned_model(config)},
        run_dir(config) / "evaluate",
        base_model=config.base_model,
        generation=generation,
        max_source_tokens=max_source_tokens,
        restore=restore,
    )


def finetuned_model(config: PipelineConfig) -> tuple[str, list[Path]]:
    """Return the (model, adapters) pair that reproduces the finetuned weights of a run.

    Full and partial finetuning save a whole model that already contains the merged pretraining
    adapter. Adapter methods are applied in order on the base: first the pretraining adapter,
    then the finetuning one, whether training merged or stacked them.
    """
    finetune_dir = run_dir(config) / "finetune"
    if (finetune_dir / "model" / "config.json").is_file():
        return str(finetune_dir / "model"), []
    adapters = [finetune_dir / "adapter"]
    if config.pretrain_enabled:
        adapters.insert(0, run_dir(config) / "pretrain" / "adapter")
    return config.base_model, adapters


STAGES = {
    # The eval split is written last, so its report marks the whole stage as finished.
    "deidentify": (stage_deidentify, "deid/eval/report.json"),
    "pretrain": (stage_pretrain, "pretrain/metrics.json"),
    "finetune": (stage_finetune, "finetune/metrics.json"),
    "evaluate": (stage_evaluate, "evaluate/metrics.json"),
}


def run_stage(name: str, config: PipelineConfig) -> dict[str, Any]:
    from medsum.prompts import register_tasks

    function, _ = STAGES[name]
    register_tasks(config.tasks)
    started = time.perf_counter()
    logger.info("stage %s started", name)
    result = function(config)
    duration = time.perf_counter() - started
    # ru_maxrss is in KiB on Linux; each stage runs in its own process, so this is its own peak.
    figures = {
        "stage_duration_s": round(duration, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    (run_dir(config) / "stages").mkdir(parents=True, exist_ok=True)
    (run_dir(config) / "stages" / f"{name}.json").write_text(json.dumps(figures))
    logger.info(
        "stage %s finished in %.1fs, peak RSS %.0f MiB", name, duration, figures["peak_rss_mb"]
    )
    return result
