"""The progress record of a resumable FHIR run: which input items are done, and their counts.

`deidentify_fhir_file` writes each input item (one resource or Bundle) in this order: its vault
entries, its trace lines (tagged with the item's position), its line in `resources.ndjson`, then
its line in `progress.jsonl`. The progress line commits the item. It contains the item's position,
a keyed digest of its input JSON, the reference day of the age limit and the item's counts.
There is no text and no unkeyed hash of the input. A run stopped between two of these writes
leaves output of at most one uncommitted item, which `load_progress` removes before resuming.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from deidentify.resume import ResumeError, truncate_torn_tail
from deidentify.surrogates import SurrogateGenerator

PROGRESS_FILE = "progress.jsonl"
COUNT_NAMES = ("resource_counts", "entity_counts", "field_counts")


def item_digest(surrogates: SurrogateGenerator, data: Any) -> str:
    """Return a keyed digest of one input item's JSON, to recognize the item on resume.

    The digest is keyed, so it cannot confirm a guess of the input's content without the key.
    """
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return surrogates.record_key("fhir-input-item\x1f" + canonical)


def progress_entry(
    item: int, digest: str, reference_day: date, counts: dict[str, Counter[str]]
) -> dict[str, Any]:
    """Build the progress line of one finished item from its counts, keyed by COUNT_NAMES."""
    return {
        "item": item,
        "input": digest,
        "reference_day": reference_day.isoformat(),
        **{name: dict(sorted(counts[name].items())) for name in COUNT_NAMES},
    }


def load_progress(output_dir: Path, resources_name: str, trace_name: str) -> list[dict[str, Any]]:
    """Return the progress entries of the committed items, after removing uncommitted output.

    Drops torn last lines, a resource line without its progress line and trace lines of items
    without a progress line. Raises ResumeError when the files do not fit together.
    """
    progress_path = output_dir / PROGRESS_FILE
    resources_path = output_dir / resources_name
    trace_path = output_dir / trace_name
    for path in (progress_path, resources_path, trace_path):
        truncate_torn_tail(path)
    entries = [_parse_entry(line, index, progress_path) for index, line in _lines(progress_path)]
    committed = len(entries)

    resources = [line for _, line in _lines(resources_path)]
    if not committed <= len(resources) <= committed + 1:
        raise ResumeError(
            f"{resources_path} has {len(resources)} resources, but {progress_path} records "
            f"{committed} finished items; one of the files was changed or removed. Write to a "
            "new output directory"
        )
    if len(resources) > committed:
        _rewrite(resources_path, resources[:committed])

    traces = [line for _, line in _lines(trace_path)]
    committed_traces = [line for line in traces if _trace_item(line, trace_path) < committed]
    if len(committed_traces) < len(traces):
        _rewrite(trace_path, committed_traces)
    return entries


def check_inputs(
    entries: list[dict[str, Any]], digests: list[str], locations: list[str], output_dir: Path
) -> None:
    """Raise ResumeError unless each committed item matches the input item at its position."""
    if len(entries) > len(digests):
        raise ResumeError(
            f"{output_dir} records {len(entries)} finished input items, but this input has "
            f"only {len(digests)}; resume with the input of the interrupted run, or write to a "
            "new output directory"
        )
    for entry, digest, where in zip(entries, digests, locations, strict=False):
        if entry["input"] != digest:
            raise ResumeError(
                f"{where} differs from the input item that the interrupted run de-identified at "
                f"this position (see {output_dir}); resume with the input of that run, or write "
                "to a new output directory"
            )


def reference_day(entries: list[dict[str, Any]], today: date | None) -> date:
    """Return the day on which the age limit is measured.

    A resumed run keeps the interrupted run's day, so a patient who turns 90 in between is
    treated the same in every item. Raises ResumeError when `today` names another day.
    """
    if not entries:
        return today or date.today()
    recorded = date.fromisoformat(entries[0]["reference_day"])
    if today is not None and today != recorded:
        raise ResumeError(
            f"the interrupted run measured ages on {recorded.isoformat()}, but this run was "
            f"asked to use {today.isoformat()}; resume without a reference day, or write to a "
            "new output directory"
        )
    return recorded


def total_counts(entries: list[dict[str, Any]], name: str) -> dict[str, int]:
    """Sum one of COUNT_NAMES over the progress entries."""
    totals: Counter[str] = Counter()
    for entry in entries:
        totals.update(entry[name])
    return dict(sorted(totals.items()))


def _lines(path: Path) -> list[tuple[int, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return list(enumerate(handle))


def _parse_entry(line: str, index: int, path: Path) -> dict[str, Any]:
    try:
        entry = json.loads(line)
        valid = (
            entry["item"] == index
            and isinstance(entry["input"], str)
            and all(isinstance(entry[name], dict) for name in COUNT_NAMES)
        )
        date.fromisoformat(entry["reference_day"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        valid = False
    if not valid:
        raise ResumeError(
            f"{path}: line {index + 1} is not a valid progress record; restore the file from "
            "the interrupted run, or write to a new output directory"
        )
    return dict(entry)


def _trace_item(line: str, path: Path) -> int:
    try:
        return int(json.loads(line)["item"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise ResumeError(
            f"{path} has a line without an item position, so it was not written by a "
            "resumable run; write to a new output directory"
        ) from None


def _rewrite(path: Path, lines: list[str]) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text("".join(lines), encoding="utf-8")
    os.replace(partial, path)
