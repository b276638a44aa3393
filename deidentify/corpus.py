"""De-identify a corpus of records into a directory, resumably.

Output layout (all paths under `output_dir`):
- `records.jsonl`: the de-identified records. The record id and patient id are replaced by keyed
  pseudonyms, because users often key records by MRN or encounter number, and `meta` is dropped
  because its free-form fields may hold identifiers.
- `trace.jsonl`: per record, the span decisions (type, recognizer, score, offsets), no text.
- `vault.sqlite`: the encrypted surrogate-to-original mappings, keyed by record pseudonym.
- `name-registry.sqlite`: which surrogate each name of a patient holds, by keyed digests, so a
  name keeps its surrogate in every record (see `deidentify/registry.py`).
- `report.json`: counts per entity type, records processed, durations and the policy. No text.
- `policy.json`, `key-fingerprint.json`: the policy and the HMAC key fingerprint of the run,
  written before the first record (see `deidentify/resume.py`).

Records are appended one at a time, so a run that is interrupted resumes after the last record
written. A resumed run must use the policy and the HMAC key recorded there; otherwise it raises
`ResumeError` instead of appending records transformed under another policy or key.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from deidentify.batch import WorkerPool, deidentify_many
from deidentify.casing import is_uncased
from deidentify.deidentifier import Deidentifier, DeidResult, merge_mappings
from deidentify.registry import NAME_REGISTRY_NAME, attached_registry, check_registry_present
from deidentify.resume import (
    POLICY_STATE_NAME,
    ResumeError,
    check_resume,
    check_resume_policy,
    record_run_state,
    truncate_torn_tail,
)
from deidentify.vault import Vault
from medsum.records import Record

logger = logging.getLogger(__name__)

__all__ = [
    "MANIFEST_NAME",
    "POLICY_STATE_NAME",
    "ResumeError",
    "check_resume_policy",
    "deidentify_corpus",
    "load_deidentified",
    "record_key",
]

MANIFEST_NAME = "report.json"
# Records de-identified together before any is written: one batch per worker process.
CHUNK_RECORDS = 64
# Joins a note and its summary into one text: line breaks end a sentence for spaCy, and the
# marker has no letters, digits or spaces for a recognizer to run across.
SUMMARY_SEPARATOR = "\n\n<<<>>>\n\n"


def _done_ids(path: Path) -> set[str]:
    if not path.exists():
        return set()
    done = set()
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                done.add(json.loads(line)["id"])
            except (json.JSONDecodeError, KeyError):
                break  # a torn last line from an interrupted run; it is rewritten below
    return done


def record_key(deid: Deidentifier, record: Record) -> str:
    """Keyed pseudonym of a record id, used to name vault entries and resume state."""
    return deid.surrogates.record_key(record.id)


def deidentify_corpus(
    records: list[Record],
    output_dir: Path,
    deid: Deidentifier,
    *,
    progress: bool | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """De-identify `records` into `output_dir`; returns the report (counts, durations, policy).

    `progress` shows a progress bar on stderr; None shows it only when stderr is a terminal.
    `workers > 1` detects and transforms in that many forked processes, a chunk of records at a
    time; the output is the same as with one process, because every replacement is keyed. The
    exception is two names of a patient whose surrogates collide: the name register gives the
    first draw to the name processed first.
    Raises ResumeError when `output_dir` contains records written under another policy or key.
    """
    started = time.perf_counter()
    if progress is None:
        progress = sys.stderr.isatty()
    output_dir.mkdir(parents=True, exist_ok=True)
    records_path = output_dir / "records.jsonl"
    trace_path = output_dir / "trace.jsonl"
    for path in (records_path, trace_path):
        truncate_torn_tail(path)
    done = _done_ids(records_path)
    check_resume(output_dir, deid.policy, deid.keys)
    record_run_state(output_dir, deid.policy, deid.keys)
    pending = [r for r in records if record_key(deid, r) not in done]
    check_registry_present(output_dir, len(done))
    # Checked here, because a worker process reports only the type of an error.
    for position, record in enumerate(records, start=1):
        deid.check_length(record.text, f"the text of record {position}")
        deid.check_length(record.summary or "", f"the summary of record {position}")
    logger.info(
        "de-identifying %d records (%d already done, resuming) with %d worker(s)",
        len(pending),
        len(records) - len(pending),
        workers,
    )
    # The pool forks before the vault opens, so no worker inherits its database connection.
    with attached_registry(deid.surrogates, output_dir / NAME_REGISTRY_NAME):
        pool = WorkerPool(deid, workers) if workers > 1 and len(pending) > 1 else None
        with pool or nullcontext():
            _write_records(pending, output_dir, deid, pool, progress=progress)
    # Counted from the trace, so a resumed run reports every record, not only this run's.
    counts: Counter[str] = Counter()
    with trace_path.open(encoding="utf-8") as trace_in:
        for line in trace_in:
            entry = json.loads(line)
            for span in entry["text_spans"] + entry["summary_spans"]:
                counts[span["entity_type"]] += 1
    report = {
        "records": len(records),
        "processed_this_run": len(pending),
        "entity_counts": dict(sorted(counts.items())),
        "threshold": deid.threshold,
        "entities": deid.entities,
        "policy": deid.policy.describe(),
        "duration_s": round(time.perf_counter() - started, 2),
    }
    (output_dir / MANIFEST_NAME).write_text(json.dumps(report, indent=2))
    logger.info("de-identification finished: %s", json.dumps(report["entity_counts"]))
    return report


def _write_records(
    pending: list[Record],
    output_dir: Path,
    deid: Deidentifier,
    pool: WorkerPool | None,
    *,
    progress: bool,
) -> None:
    """Append each pending record, its trace line and its vault entry, one record at a time."""
    vault = Vault(output_dir / "vault.sqlite", deid.keys)
    try:
        _append_records(pending, output_dir, deid, pool, vault, progress=progress)
    finally:
        vault.close()


def _append_records(
    pending: list[Record],
    output_dir: Path,
    deid: Deidentifier,
    pool: WorkerPool | None,
    vault: Vault,
    *,
    progress: bool,
) -> None:
    bar = tqdm(
        total=len(pending), desc="deidentify", unit="rec", disable=not progress, mininterval=5.0
    )
    with (
        (output_dir / "records.jsonl").open("a", encoding="utf-8") as records_out,
        (output_dir / "trace.jsonl").open("a", encoding="utf-8") as trace_out,
        bar,
    ):
        for start in range(0, len(pending), CHUNK_RECORDS):
            chunk = pending[start : start + CHUNK_RECORDS]
            results = iter(_deidentify_chunk(chunk, deid, pool))
            for record in chunk:
                key = record_key(deid, record)
                text_result, summary_result = _record_results(record, results, deid)
                mapping = dict(text_result.mapping)
                summary = None
                summary_spans: list[dict[str, Any]] = []
                if summary_result is not None:
                    summary = summary_result.text
                    mapping = merge_mappings([text_result, summary_result])
                    summary_spans = [span.to_json() for span in summary_result.spans]
                vault.put(key, mapping)
                output = Record(
                    id=key,
                    text=text_result.text,
                    patient_id=text_result.patient,
                    summary=summary,
                    task=record.task,
                    section=record.section,
                ).to_json()
                trace_out.write(
                    json.dumps(
                        {
                            "record": key,
                            "text_spans": [span.to_json() for span in text_result.spans],
                            "summary_spans": summary_spans,
                        }
                    )
                    + "\n"
                )
                records_out.write(json.dumps(output, ensure_ascii=False) + "\n")
                records_out.flush()
                trace_out.flush()
                bar.update(1)


def _joins_summary(record: Record) -> bool:
    """Return whether a record's note and summary are de-identified as one text.

    Joined, one person gets one surrogate in both, and a name found in the note is found in
    the summary too. A note and a summary in different letter case stay apart, because the
    case decides how names are detected.
    """
    if not record.summary:
        return False
    if SUMMARY_SEPARATOR in record.text or SUMMARY_SEPARATOR in record.summary:
        return False
    return is_uncased(record.text) == is_uncased(record.summary)


def _record_results(
    record: Record, results: Iterator[DeidResult], deid: Deidentifier
) -> tuple[DeidResult, DeidResult | None]:
    """Take the note's and the summary's results of one record from the chunk's results."""
    if not _joins_summary(record):
        text_result = next(results)
        return text_result, (next(results) if record.summary else None)
    parts = _split_joined(next(results), len(record.text))
    if parts is None:
        # A span crossed the separator, which no recognizer should allow: de-identify apart.
        return (
            deid.deidentify(record.text, record.patient_id),
            deid.deidentify(record.summary or "", record.patient_id),
        )
    return parts


def _split_joined(result: DeidResult, note_length: int) -> tuple[DeidResult, DeidResult] | None:
    pieces = result.text.split(SUMMARY_SEPARATOR)
    if len(pieces) != 2:
        return None
    summary_start = note_length + len(SUMMARY_SEPARATOR)
    note_spans = [span for span in result.spans if span.end <= note_length]
    summary_spans = [
        replace(span, start=span.start - summary_start, end=span.end - summary_start)
        for span in result.spans
        if span.start >= summary_start
    ]
    if len(note_spans) + len(summary_spans) != len(result.spans):
        return None
    return (
        replace(result, text=pieces[0], spans=note_spans),
        replace(result, text=pieces[1], spans=summary_spans),
    )


def _deidentify_chunk(
    chunk: list[Record], deid: Deidentifier, pool: WorkerPool | None
) -> list[DeidResult]:
    """De-identify each record's text, then its summary if any, or both joined."""
    texts: list[str] = []
    patients: list[str | None] = []
    for record in chunk:
        if _joins_summary(record):
            texts.append(f"{record.text}{SUMMARY_SEPARATOR}{record.summary}")
            patients.append(record.patient_id)
            continue
        texts.append(record.text)
        patients.append(record.patient_id)
        if record.summary:
            texts.append(record.summary)
            patients.append(record.patient_id)
    if pool is not None:
        return pool.deidentify(texts, patients)
    return deidentify_many(deid, texts, patients)


def load_deidentified(output_dir: Path) -> list[Record]:
    """Read the de-identified records of a corpus directory, in the order they were written."""
    path = output_dir / "records.jsonl"
    if not (output_dir / MANIFEST_NAME).exists():
        raise FileNotFoundError(
            f"{output_dir} has no de-identification report; run `medsum deidentify` first"
        )
    records = []
    for line in path.open(encoding="utf-8"):
        records.append(Record.from_json(json.loads(line)))
    return records
