"""Clinical records and the readers that load them.

A `Record` is one source text (a note or a doctor-patient dialogue) with an optional reference
summary. Readers exist for CSV and JSONL files with a column mapping, for the MTS-Dialog and
ACI-Bench layouts, and for the synthetic corpus that medsum generates itself.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Task names select the instruction template used for finetuning, evaluation and serving.
TASK_SECTION = "section"  # dialogue -> one note section (MTS-Dialog)
TASK_NOTE = "note"  # encounter -> full visit note (ACI-Bench)
TASK_SUMMARY = "summary"  # any clinical text -> short summary
TASKS = (TASK_SECTION, TASK_NOTE, TASK_SUMMARY)

MAX_FIELD_CHARS = 1_000_000
csv.field_size_limit(MAX_FIELD_CHARS)


class RecordFormatError(ValueError):
    """Raised when an input file cannot be read as records. The message never quotes note text."""


@dataclass
class Record:
    """One source text with its optional reference summary."""

    id: str
    text: str
    patient_id: str | None = None
    summary: str | None = None
    task: str = TASK_SUMMARY
    section: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Record:
        return cls(**row)


@dataclass(frozen=True)
class ColumnMapping:
    """Names of the input columns that fill each `Record` field."""

    id: str = "id"
    text: str = "text"
    summary: str | None = "summary"
    patient_id: str | None = "patient_id"
    section: str | None = None
    task: str | None = None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_text_file(path: Path) -> str:
    if not path.is_file():
        raise RecordFormatError(f"input file not found: {path}")
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise RecordFormatError(
            f"{path} looks binary (NUL bytes); expected UTF-8 CSV or JSONL text"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RecordFormatError(
            f"{path} is not valid UTF-8 (byte offset {exc.start}); re-encode it as UTF-8"
        ) from None


def _build_record(
    row: dict[str, Any], mapping: ColumnMapping, default_task: str, where: str
) -> Record:
    missing = [name for name in (mapping.id, mapping.text) if name not in row]
    if missing:
        # Column names are not listed: in a file without a header row they are note text.
        raise RecordFormatError(
            f"{where}: missing column(s) {missing} among {len(row)} columns. The first line "
            "must be a header row; set the column mapping to the names your file uses."
        )
    text = row[mapping.text]
    if not isinstance(text, str) or not text.strip():
        raise RecordFormatError(f"{where}: column {mapping.text!r} is empty or not a string")

    def optional(column: str | None) -> str | None:
        if column is None or row.get(column) in (None, ""):
            return None
        return str(row[column])

    from medsum.prompts import known_tasks

    task = optional(mapping.task) or default_task
    if task not in known_tasks():
        raise RecordFormatError(
            f"{where}: unknown task value; expected one of {known_tasks()} "
            "(define your own under `tasks:` in the pipeline config)"
        )
    known = {mapping.id, mapping.text, mapping.summary, mapping.patient_id, mapping.section}
    meta = {key: value for key, value in row.items() if key not in known}
    if row[mapping.id] in (None, ""):
        raise RecordFormatError(f"{where}: column {mapping.id!r} (the record id) is empty")
    return Record(
        id=str(row[mapping.id]),
        text=text,
        patient_id=optional(mapping.patient_id),
        summary=optional(mapping.summary),
        task=task,
        section=optional(mapping.section),
        meta=meta,
    )


def read_csv(
    path: Path, mapping: ColumnMapping = ColumnMapping(), task: str = TASK_SUMMARY
) -> list[Record]:
    """Read a CSV file with a header row into records."""
    content = _read_text_file(path)
    # newline="" keeps line breaks inside quoted cells, and only \r and \n end a row (not the
    # form feeds or Unicode separators that str.splitlines also splits on).
    reader = csv.DictReader(io.StringIO(content, newline=""))
    if not reader.fieldnames:
        raise RecordFormatError(f"{path} is empty or has no header row")
    records = []
    try:
        for line_number, row in enumerate(reader, start=2):
            if None in row:
                raise RecordFormatError(
                    f"{path}:{line_number}: row has more fields than the header; "
                    "check quoting of fields that contain commas or newlines"
                )
            records.append(_build_record(row, mapping, task, f"{path}:{line_number}"))
    except csv.Error as exc:
        raise RecordFormatError(f"{path}: malformed CSV ({exc})") from None
    if not records:
        raise RecordFormatError(f"{path} has a header but no rows")
    return records


def read_jsonl(
    path: Path, mapping: ColumnMapping = ColumnMapping(), task: str = TASK_SUMMARY
) -> list[Record]:
    """Read a JSON Lines file, one object per line, into records."""
    content = _read_text_file(path)
    records = []
    # JSON strings may hold U+2028 and other characters that str.splitlines treats as breaks.
    for line_number, line in enumerate(content.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RecordFormatError(
                f"{path}:{line_number}: invalid JSON at column {exc.colno} ({exc.msg})"
            ) from None
        if not isinstance(row, dict):
            raise RecordFormatError(f"{path}:{line_number}: expected a JSON object per line")
        records.append(_build_record(row, mapping, task, f"{path}:{line_number}"))
    if not records:
        raise RecordFormatError(f"{path} contains no records")
    return records


MTS_DIALOG_MAPPING = ColumnMapping(
    id="ID", text="dialogue", summary="section_text", patient_id=None, section="section_header"
)
ACI_BENCH_MAPPING = ColumnMapping(
    id="encounter_id", text="dialogue", summary="note", patient_id=None
)


def read_mts_dialog(path: Path) -> list[Record]:
    """Read an MTS-Dialog split (`ID, section_header, section_text, dialogue`).

    Each row is one encounter, so the row id doubles as the patient id that keeps surrogates
    consistent within the row.
    """
    records = read_csv(path, MTS_DIALOG_MAPPING, TASK_SECTION)
    for record in records:
        record.id = f"{path.stem}-{record.id}"
        record.patient_id = record.id
    return records


def read_aci_bench(path: Path) -> list[Record]:
    """Read an ACI-Bench split (`dataset, encounter_id, dialogue, note`)."""
    records = read_csv(path, ACI_BENCH_MAPPING, TASK_NOTE)
    for record in records:
        record.patient_id = record.id
    return records


def write_jsonl(path: Path, records: list[Record]) -> None:
    """Write records atomically, so an interrupted write never leaves half a file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    with partial.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
    os.replace(partial, path)


def load_jsonl_records(path: Path) -> list[Record]:
    """Read records written by `write_jsonl`."""
    return [
        Record.from_json(json.loads(line)) for line in path.open(encoding="utf-8") if line.strip()
    ]


def iter_chunks(items: list[Record], size: int) -> Iterator[list[Record]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def load_records(
    source: str,
    path: Path | None = None,
    *,
    mapping: ColumnMapping | None = None,
    limit: int | None = None,
    seed: int = 0,
    synthetic_count: int = 60,
) -> list[Record]:
    """Load records from one of the known sources.

    `source` is `synthetic`, `mts-dialog`, `aci-bench`, `csv` or `jsonl`; every source but
    `synthetic` needs `path`. `limit` keeps the first rows, in file order.
    """
    if source == "synthetic":
        from medsum.synthetic import generate_corpus

        records = generate_corpus(synthetic_count, seed=seed)
    else:
        if path is None:
            raise RecordFormatError(f"source {source!r} needs an input path")
        path = Path(path)
        if source == "mts-dialog":
            records = read_mts_dialog(path)
        elif source == "aci-bench":
            records = read_aci_bench(path)
        elif source == "csv":
            records = read_csv(path, mapping or ColumnMapping())
        elif source == "jsonl":
            records = read_jsonl(path, mapping or ColumnMapping())
        else:
            raise RecordFormatError(
                f"unknown source {source!r}; "
                "expected synthetic, mts-dialog, aci-bench, csv or jsonl"
            )
    check_unique_ids(records)
    return records[:limit] if limit is not None else records


def check_unique_ids(records: list[Record]) -> None:
    """Raise unless every record has a distinct, non-empty id.

    Vault entries and resume state are keyed by record id, so two records sharing an id would
    overwrite each other's re-identification mapping. The message gives positions, never ids.
    """
    seen: dict[str, int] = {}
    for position, record in enumerate(records, start=1):
        if not record.id or record.id == "None":
            raise RecordFormatError(f"record {position} has an empty id; every record needs one")
        if record.id in seen:
            raise RecordFormatError(
                f"records {seen[record.id]} and {position} share the same id; ids must be unique"
            )
        seen[record.id] = position
