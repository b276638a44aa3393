"""De-identification throughput: medsum's detector against Presidio's default analyzer.

Every mode reads the same texts in one run, after a warm-up call, and reports notes/s and
characters/s of processing time (engine and pool start-up are reported apart as `setup_s`).
The modes take turns over several passes, so that load from other processes on a shared
machine falls on all of them:

- `presidio_default`: `AnalyzerEngine` with Presidio's default recognizer registry and the same
  spaCy model, one `analyze` call per text, all entities (the baseline);
- `medsum_full_pipeline`: `Deidentifier.detect` with spaCy's tagger, parser and lemmatizer
  running as in Presidio's default, one call per text (medsum's detector before it ran spaCy's
  entity recognizer alone);
- `medsum_plain`: `Deidentifier.detect` as shipped (entity recognizer and sentence splitter
  only), one call per text;
- `medsum_batch`: `detect_many` with `nlp.pipe` batches, one process;
- `medsum_pool`: `detect_many`'s worker pool, `workers` forked processes.

The batch and pool modes compare their spans with `medsum_plain`'s: identical spans mean the
same recall and precision on any gold standard. `medsum_full_pipeline` differs from it on some
texts; `medsum score-deid` measures both on a gold standard (docs/results.md).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpEngineProvider

from deidentify.batch import DEFAULT_BATCH_SIZE, WorkerPool, available_cores, detect_many
from deidentify.deidentifier import Deidentifier
from deidentify.engine import DEFAULT_SPACY_MODEL
from medsum.config import data_dir
from medsum.records import Record

logger = logging.getLogger(__name__)

CORPORA = ("synthetic", "physionet", "mts-dialog")
MTS_DIALOG_SPLITS = ("train", "validation", "test1")
WARM_UP_TEXT = "Seen by Dr. Hartwell on 03/04/2021, call (617) 555-0199."


def load_corpus(corpus: str, count: int | None = None) -> list[Record]:
    """Return the first `count` records of a corpus (all when `count` is None).

    `synthetic` is generated, so it needs no data (200 records unless `count` gives another).
    `physionet` (one record per note) and `mts-dialog` (the train, validation and test1
    splits, in that order) are read from `MEDSUM_DATA_DIR`.
    """
    if count is not None and count < 1:
        raise ValueError(f"number of notes must be at least 1, got {count}")
    if corpus == "synthetic":
        from medsum.synthetic import generate_corpus

        return generate_corpus(count or 200)
    if corpus == "physionet":
        from deidentify.physionet import read_notes

        path = data_dir() / "physionet-deid" / "id.text"
        _require_file(path)
        records = [
            Record(id=f"{note.patient}-{note.note}", text=note.body, patient_id=note.patient)
            for note in read_notes(path)
        ]
    elif corpus == "mts-dialog":
        from medsum.records import read_mts_dialog

        folder = data_dir() / "mts-dialog"
        records = []
        for split in MTS_DIALOG_SPLITS:
            _require_file(folder / f"{split}.csv")
            records.extend(read_mts_dialog(folder / f"{split}.csv"))
    else:
        raise ValueError(f"unknown corpus {corpus!r}; expected one of {', '.join(CORPORA)}")
    return records[:count] if count is not None else records


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found; set MEDSUM_DATA_DIR to the folder of the public clinical sets, "
            "or use --corpus synthetic"
        )


def build_presidio_default(spacy_model: str = DEFAULT_SPACY_MODEL) -> AnalyzerEngine:
    """Return Presidio's default analyzer (default registry and NER settings) on `spacy_model`.

    The NLP engine is named explicitly only because Presidio's default one downloads
    `en_core_web_lg` at run time.
    """
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": spacy_model}],
        }
    )
    nlp_engine = provider.create_engine()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(nlp_engine=nlp_engine, languages=["en"])
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])


@dataclass
class _Mode:
    """One way of processing the texts, with the time it has taken over every pass."""

    name: str
    run: Callable[[], list[Any]]
    processes: int
    setup_s: float
    seconds: float = 0.0
    cpu_s: float = 0.0
    outputs: list[Any] = field(default_factory=list)

    def time_once(self) -> None:
        started, cpu_started = time.perf_counter(), time.process_time()
        outputs = self.run()
        self.seconds += time.perf_counter() - started
        self.cpu_s += time.process_time() - cpu_started
        if not self.outputs:
            self.outputs = outputs

    def figures(self, texts: list[str], passes: int) -> dict[str, Any]:
        count = len(texts) * passes
        characters = sum(len(text) for text in texts) * passes
        return {
            "processes": self.processes,
            "seconds": round(self.seconds, 2),
            "setup_s": round(self.setup_s, 2),
            "notes_per_s": round(count / self.seconds, 2),
            "chars_per_s": round(characters / self.seconds, 1),
            "cpu_s": round(self.cpu_s, 2),
            "notes_per_cpu_s": round(count / self.cpu_s, 2),
            "spans": sum(len(spans) for spans in self.outputs),
        }


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_modes(
    texts: list[str], *, workers: int, batch_size: int, spacy_model: str, passes: int = 2
) -> dict[str, dict[str, Any]]:
    """Time every mode on `texts` and return their figures, keyed by mode name.

    Modes run in order, then in reverse order on the next pass, and so on, so that a change in
    the load of a shared machine during the run weighs on every mode alike.
    """
    started = time.perf_counter()
    presidio = build_presidio_default(spacy_model)
    presidio.analyze(WARM_UP_TEXT, language="en")
    modes = [
        _Mode(
            "presidio_default",
            lambda: [presidio.analyze(text, language="en") for text in texts],
            1,
            time.perf_counter() - started,
        )
    ]

    started = time.perf_counter()
    full = Deidentifier.create(spacy_model=spacy_model, full_pipeline=True)
    full.detect(WARM_UP_TEXT)
    modes.append(
        _Mode(
            "medsum_full_pipeline",
            lambda: [full.detect(text) for text in texts],
            1,
            time.perf_counter() - started,
        )
    )

    started = time.perf_counter()
    deid = Deidentifier.create(spacy_model=spacy_model)
    deid.detect(WARM_UP_TEXT)
    setup_s = time.perf_counter() - started
    modes.append(_Mode("medsum_plain", lambda: [deid.detect(text) for text in texts], 1, setup_s))
    modes.append(
        _Mode(
            "medsum_batch",
            lambda: detect_many(deid, texts, batch_size=batch_size),
            1,
            setup_s,
        )
    )

    started = time.perf_counter()
    children_before = _children_cpu_s()
    with WorkerPool(deid, workers, batch_size=batch_size) as pool:
        pool_setup_s = time.perf_counter() - started
        modes.append(
            _Mode("medsum_pool", lambda: pool.detect(texts), workers, setup_s + pool_setup_s)
        )
        for index in range(passes):
            for mode in modes if index % 2 == 0 else reversed(modes):
                mode.time_once()
                logger.info("bench deid pass %d: %s done", index + 1, mode.name)
    # The workers' CPU time is known once they have exited; they idle while other modes run.
    modes[-1].cpu_s += _children_cpu_s() - children_before

    results = {mode.name: mode.figures(texts, passes) for mode in modes}
    plain = next(mode for mode in modes if mode.name == "medsum_plain").outputs
    for mode in modes[1:]:
        if mode.name == "medsum_plain":
            continue
        differing = sum(1 for mine, ref in zip(mode.outputs, plain, strict=True) if mine != ref)
        results[mode.name]["identical_to_plain"] = differing == 0
        results[mode.name]["differing_texts"] = differing
    return results


def _environment(load_before: tuple[float, float, float]) -> dict[str, Any]:
    load_after = os.getloadavg()
    return {
        "machine": platform.machine(),
        "cores_available": available_cores(),
        # Load averages over 1 minute; above the core count, other processes shared the CPU.
        "load_average_before": round(load_before[0], 2),
        "load_average_after": round(load_after[0], 2),
        "python": platform.python_version(),
        "spacy": version("spacy"),
        "presidio_analyzer": version("presidio-analyzer"),
    }


def bench_deid(
    texts: list[str],
    output: Path,
    *,
    corpus: str,
    workers: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    spacy_model: str = DEFAULT_SPACY_MODEL,
    passes: int = 2,
) -> dict[str, Any]:
    """Run every mode on `texts` and write `output.json` and `output.md`."""
    # Options are checked before any spaCy model loads, which takes seconds.
    if not texts:
        raise ValueError("no texts to measure; pass --notes 1 or more")
    workers = workers or available_cores()
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if passes < 1:
        raise ValueError(f"passes must be at least 1, got {passes}")

    load_before = os.getloadavg()
    modes = run_modes(
        texts, workers=workers, batch_size=batch_size, spacy_model=spacy_model, passes=passes
    )
    baseline = modes["presidio_default"]

    report: dict[str, Any] = {
        "corpus": corpus,
        "notes": len(texts),
        "characters": sum(len(text) for text in texts),
        "spacy_model": spacy_model,
        "workers": workers,
        "batch_size": batch_size,
        "passes": passes,
        "environment": _environment(load_before),
        "modes": modes,
        # Wall-clock throughput over Presidio's, as measured on this machine at this load.
        "ratio_to_presidio_default": {
            mode: round(figures["notes_per_s"] / baseline["notes_per_s"], 2)
            for mode, figures in modes.items()
        },
        # Notes per CPU-second over Presidio's: the work each note costs, whatever the load.
        "cpu_ratio_to_presidio_default": {
            mode: round(figures["notes_per_cpu_s"] / baseline["notes_per_cpu_s"], 2)
            for mode, figures in modes.items()
        },
    }

    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    output.with_suffix(".md").write_text(_markdown(report))
    return report


def _markdown(report: dict[str, Any]) -> str:
    environment = report["environment"]
    lines = [
        "# De-identification throughput",
        "",
        f"{report['notes']} notes of the `{report['corpus']}` corpus "
        f"({report['characters']:,} characters), spaCy model `{report['spacy_model']}`, "
        f"`nlp.pipe` batches of {report['batch_size']}, {report['passes']} passes over the texts "
        f"(modes in order, then in reverse), {report['workers']} worker process(es) "
        f"on {environment['cores_available']} available cores ({environment['machine']}). "
        f"Load average before and after the run: {environment['load_average_before']} and "
        f"{environment['load_average_after']}.",
        "",
        "| mode | processes | notes/s | characters/s | ratio to Presidio "
        "| notes per CPU-second | CPU ratio | same spans as plain |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mode, figures in report["modes"].items():
        identical = figures.get("identical_to_plain")
        same = (
            ""
            if identical is None
            else ("yes" if identical else f"no ({figures['differing_texts']} texts differ)")
        )
        ratio = report["ratio_to_presidio_default"][mode]
        cpu_ratio = report["cpu_ratio_to_presidio_default"][mode]
        lines.append(
            f"| {mode} | {figures['processes']} | {figures['notes_per_s']} | "
            f"{figures['chars_per_s']:,.0f} | {ratio} | {figures['notes_per_cpu_s']} | "
            f"{cpu_ratio} | {same} |"
        )
    lines += [
        "",
        "Throughput counts processing time only; `setup_s` in the JSON file holds the engine and "
        "pool start-up. Notes per CPU-second divide by the CPU time of this process and, for the "
        "pool, of its workers. A pool of k workers can reach k times the single-process rate only "
        "when k cores are idle. `medsum_full_pipeline` also runs spaCy's tagger, parser and "
        "lemmatizer, as Presidio's default does; its spans differ from the shipped detector's on "
        "some texts, and docs/results.md scores both on the PhysioNet gold standard.",
    ]
    return "\n".join(lines) + "\n"
