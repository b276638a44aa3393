"""The PhysioNet deid benchmark layout: notes in, span files out, and its any-overlap scorer.

Notes (`id.text`): `START_OF_RECORD=<patient>||||<note>||||` + newline + body +
`||||END_OF_RECORD`, Latin-1. Span files (`id.deid`, `deid-tool-output.phi`): a
`Patient P<TAB>Note N` line, then one `start<TAB>start<TAB>end` line per span, with 0-based,
end-exclusive character offsets into the body.

Scoring follows the benchmark's published rule (Neamatullah et al., BMC Med Inform Decis Mak
8:32, 2008). A gold span counts as found when any detected span overlaps it. A detected span
counts as correct when it overlaps any gold span.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEADER = re.compile(r"START_OF_RECORD=(\d+)\|\|\|\|(\d+)\|\|\|\|\n")
FOOTER = "||||END_OF_RECORD"
SPAN_HEADER = re.compile(r"Patient\s+(\d+)\s+Note\s+(\d+)")
# A word token for the token-level figures: letters and digits.
TOKEN = re.compile(r"[A-Za-z0-9]+")

NoteKey = tuple[str, str]
# Notes de-identified together, for the progress bar and the worker pool.
CHUNK_NOTES = 64
# The decision trace written beside detections.phi: one JSON line per note, no text.
TRACE_NAME = "trace.jsonl"
# The de-identified notes and the detected spans that `deidentify_notes` writes.
NOTES_NAME = "id.text"
DETECTIONS_NAME = "detections.phi"


@dataclass(frozen=True)
class PhysioNetNote:
    patient: str
    note: str
    body: str


def read_notes(path: Path) -> list[PhysioNetNote]:
    """Read every record of an `id.text` file."""
    content = Path(path).read_text(encoding="latin-1")
    notes = []
    for match in HEADER.finditer(content):
        end = content.find(FOOTER, match.end())
        # Without this check, a record that lacks its footer would take in the next record.
        next_header = HEADER.search(content, match.end())
        if end < 0 or (next_header is not None and next_header.start() < end):
            raise ValueError(
                f"{path}: record for patient {match.group(1)} note {match.group(2)} has no "
                f"{FOOTER} marker before the next record or the end of the file; add the marker "
                "after the record's text"
            )
        notes.append(PhysioNetNote(match.group(1), match.group(2), content[match.end() : end]))
    if not notes:
        raise ValueError(f"{path}: no START_OF_RECORD lines; expected the PhysioNet deid layout")
    return notes


def read_spans(path: Path) -> dict[NoteKey, list[tuple[int, int]]]:
    """Read a span file (`id.deid`, `*.phi`) into (patient, note) -> [(start, end)]."""
    spans: dict[NoteKey, list[tuple[int, int]]] = {}
    current: NoteKey | None = None
    for number, line in enumerate(Path(path).read_text(encoding="latin-1").splitlines(), 1):
        if not line.strip():
            continue
        header = SPAN_HEADER.match(line.strip())
        if header:
            current = (header.group(1), header.group(2))
            spans.setdefault(current, [])
            continue
        fields = line.split()
        # Latin-1 has superscript digits ("²") that isdigit() accepts and int() rejects.
        if current is None or len(fields) != 3 or not all(_is_number(f) for f in fields):
            raise ValueError(f"{path}:{number}: expected 'start start end' after a Patient line")
        spans[current].append((int(fields[1]), int(fields[2])))
    return spans


def _is_number(field: str) -> bool:
    return field.isascii() and field.isdigit()


def check_notes_match(
    notes: Iterable[PhysioNetNote], spans: dict[NoteKey, list[tuple[int, int]]], label: Path
) -> None:
    """Raise ValueError unless every note that `spans` names is in `notes` and its spans fit.

    Token figures over the notes of another file would be silently wrong, so a note missing
    from `notes` or a span that ends after its note is an error.
    """
    lengths = {(note.patient, note.note): len(note.body) for note in notes}
    hint = "pass the id.text that the span files were made from"
    for (patient, note), note_spans in spans.items():
        if (patient, note) not in lengths:
            raise ValueError(
                f"{label} has spans for patient {patient} note {note}, which the notes file "
                f"does not contain; {hint}"
            )
        end = max((span_end for _, span_end in note_spans), default=0)
        if end > lengths[(patient, note)]:
            raise ValueError(
                f"{label}: a span of patient {patient} note {note} ends at character {end}, "
                f"after the end of that note ({lengths[(patient, note)]} characters); {hint}"
            )


def write_spans(path: Path, spans: Iterable[tuple[NoteKey, list[tuple[int, int]]]]) -> None:
    lines = []
    for (patient, note), note_spans in spans:
        lines.append(f"Patient {patient}\tNote {note}")
        lines.extend(f"{start}\t{start}\t{end}" for start, end in sorted(note_spans))
    Path(path).write_text("\n".join(lines) + "\n", encoding="latin-1")


def _overlaps(span: tuple[int, int], others: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in others)


def score_overlap(
    gold: dict[NoteKey, list[tuple[int, int]]], detected: dict[NoteKey, list[tuple[int, int]]]
) -> dict[str, float | int]:
    """Any-overlap recall and precision, plus exact-span figures."""
    gold_total = found = detected_total = correct = exact = 0
    for key in set(gold) | set(detected):
        gold_spans = gold.get(key, [])
        detected_spans = detected.get(key, [])
        gold_total += len(gold_spans)
        detected_total += len(detected_spans)
        found += sum(_overlaps(span, detected_spans) for span in gold_spans)
        correct += sum(_overlaps(span, gold_spans) for span in detected_spans)
        exact += len(set(gold_spans) & set(detected_spans))
    return {
        "gold_spans": gold_total,
        "detected_spans": detected_total,
        "recall": round(found / gold_total, 4) if gold_total else 0.0,
        "precision": round(correct / detected_total, 4) if detected_total else 0.0,
        "missed": gold_total - found,
        "false_positives": detected_total - correct,
        "exact_recall": round(exact / gold_total, 4) if gold_total else 0.0,
        "exact_precision": round(exact / detected_total, 4) if detected_total else 0.0,
    }


def score_tokens(
    notes: Iterable[PhysioNetNote],
    gold: dict[NoteKey, list[tuple[int, int]]],
    detected: dict[NoteKey, list[tuple[int, int]]],
) -> dict[str, float | int]:
    """Token-level recall and precision: a word token is PHI when a gold span overlaps it.

    Tokens are runs of letters and digits in the note body, so a name of three words weighs
    three times a one-word name, and a detection that covers half of a date scores half.
    """
    gold_tokens = detected_tokens = both = 0
    for note in notes:
        key = (note.patient, note.note)
        gold_spans, detected_spans = gold.get(key, []), detected.get(key, [])
        for match in TOKEN.finditer(note.body):
            token = (match.start(), match.end())
            in_gold = _overlaps(token, gold_spans)
            in_detected = _overlaps(token, detected_spans)
            gold_tokens += in_gold
            detected_tokens += in_detected
            both += in_gold and in_detected
    return {
        "gold_tokens": gold_tokens,
        "detected_tokens": detected_tokens,
        "recall": round(both / gold_tokens, 4) if gold_tokens else 0.0,
        "precision": round(both / detected_tokens, 4) if detected_tokens else 0.0,
    }


def read_typed_gold(path: Path) -> dict[NoteKey, list[tuple[int, int, str]]]:
    """Read `id-phi.phrase` (`patient note start end TYPE phrase`) keeping the gold type."""
    spans: dict[NoteKey, list[tuple[int, int, str]]] = {}
    for number, line in enumerate(Path(path).read_text(encoding="latin-1").splitlines(), 1):
        fields = line.split(maxsplit=5)
        if len(fields) < 5:
            continue
        patient, note, start, end, kind = fields[:5]
        if not (start.isdigit() and end.isdigit()):
            # The phrase column is PHI, so the message names the line only.
            raise ValueError(f"{path}:{number}: expected 'patient note start end TYPE phrase'")
        spans.setdefault((patient, note), []).append((int(start), int(end), kind))
    return spans


def recall_by_type(
    typed_gold: dict[NoteKey, list[tuple[int, int, str]]],
    detected: dict[NoteKey, list[tuple[int, int]]],
) -> dict[str, dict[str, float | int]]:
    """Any-overlap recall for each gold PHI type."""
    totals: dict[str, list[int]] = {}
    for key, gold_spans in typed_gold.items():
        for start, end, kind in gold_spans:
            found = _overlaps((start, end), detected.get(key, []))
            counts = totals.setdefault(kind, [0, 0])
            counts[0] += 1
            counts[1] += int(found)
    return {
        kind: {"gold": total, "found": found, "recall": round(found / total, 4)}
        for kind, (total, found) in sorted(totals.items())
    }


def check_output_dir(input_path: Path, output_dir: Path) -> None:
    """Raise ValueError when de-identified notes in `output_dir` would overwrite other files.

    `deidentify_notes` writes `output_dir/id.text`, which must not be the input notes, and
    `trace.jsonl`, which must not be the trace of a CSV or FHIR run (see `check_output_kind`).
    """
    from deidentify.resume import check_output_kind

    output_notes = output_dir / NOTES_NAME
    if output_notes.exists() and output_notes.samefile(input_path):
        raise ValueError(
            f"output directory {output_dir} contains the input notes {input_path}, which the "
            "de-identified notes would overwrite; write to another directory"
        )
    check_output_kind(output_dir, DETECTIONS_NAME)


def deidentify_notes(
    notes: list[PhysioNetNote],
    output_dir: Path,
    deid: object,
    *,
    progress: bool = True,
    workers: int = 1,
) -> dict[NoteKey, list[tuple[int, int]]]:
    """De-identify notes into `output_dir/id.text`; write `detections.phi` and `trace.jsonl`."""
    from tqdm import tqdm

    from deidentify.batch import WorkerPool, deidentify_many
    from deidentify.deidentifier import Deidentifier, DeidResult
    from deidentify.resume import check_output_kind

    assert isinstance(deid, Deidentifier)
    check_output_kind(output_dir, DETECTIONS_NAME)
    # Checked here, because a worker process reports only the type of an error.
    for note in notes:
        deid.check_length(note.body, f"the note of patient {note.patient} note {note.note}")
    output_dir.mkdir(parents=True, exist_ok=True)
    detections: dict[NoteKey, list[tuple[int, int]]] = {}
    pieces = []
    trace = []
    bar = tqdm(total=len(notes), desc="deidentify", unit="note", disable=not progress)
    pool = WorkerPool(deid, workers) if workers > 1 and len(notes) > 1 else None
    with bar, pool or nullcontext():
        results: list[DeidResult] = []
        for start in range(0, len(notes), CHUNK_NOTES):
            chunk = notes[start : start + CHUNK_NOTES]
            texts, patients = [n.body for n in chunk], [n.patient for n in chunk]
            if pool is None:
                results.extend(deidentify_many(deid, texts, patients))
            else:
                results.extend(pool.deidentify(texts, patients))
            bar.update(len(chunk))
    for note, result in zip(notes, results, strict=True):
        detections[(note.patient, note.note)] = [(s.start, s.end) for s in result.spans]
        pieces.append(f"START_OF_RECORD={note.patient}||||{note.note}||||\n{result.text}{FOOTER}\n")
        # The decision trace: offsets, entity type, recognizer and score; never the text.
        spans = [span.to_json() for span in result.spans]
        trace.append(json.dumps({"patient": note.patient, "note": note.note, "spans": spans}))
    (output_dir / NOTES_NAME).write_text("".join(pieces), encoding="latin-1", errors="replace")
    write_spans(output_dir / DETECTIONS_NAME, detections.items())
    (output_dir / TRACE_NAME).write_text("\n".join(trace) + "\n", encoding="utf-8")
    return detections


def read_trace(path: Path) -> dict[NoteKey, list[dict[str, object]]]:
    """Read the decision trace that `deidentify_notes` writes beside `detections.phi`."""
    spans: dict[NoteKey, list[dict[str, object]]] = {}
    try:
        content = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path} is not UTF-8 text (byte offset {error.start}), so `medsum deidentify` did "
            "not write it; delete it or run `medsum deidentify` again"
        ) from None
    for number, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            key = (str(entry["patient"]), str(entry["note"]))
            spans[key] = [_trace_span(span) for span in entry["spans"]]
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(
                f"{path}:{number}: expected a JSON object with patient, note and spans, each "
                f"span with integer start and end and string entity_type and recognizer "
                f"({type(error).__name__})"
            ) from None
    return spans


def _trace_span(span: Any) -> dict[str, object]:
    """Return one span of a trace line, raising TypeError unless its fields have their types."""
    if not isinstance(span, dict):
        raise TypeError("span is not an object")
    if not all(isinstance(span[name], int) for name in ("start", "end")):
        raise TypeError("start and end must be integers")
    if not all(isinstance(span[name], str) for name in ("entity_type", "recognizer")):
        raise TypeError("entity_type and recognizer must be strings")
    return dict(span)


def check_trace_matches(
    trace: dict[NoteKey, list[dict[str, object]]],
    detected: dict[NoteKey, list[tuple[int, int]]],
    trace_path: Path,
) -> None:
    """Raise ValueError unless the trace has the spans of `detected`, note by note.

    A trace left beside a span file of another run or tool would give false-positive counts
    that do not add up to the overall figures.
    """
    for key in sorted(set(trace) | set(detected)):
        traced = sorted((int(str(s["start"])), int(str(s["end"]))) for s in trace.get(key, []))
        if traced != sorted(detected.get(key, [])):
            raise ValueError(
                f"{trace_path} does not match the detections beside it (spans of patient "
                f"{key[0]} note {key[1]} differ), so it was written by another run; delete it "
                "or run `medsum deidentify` again to write both files"
            )


def false_positives_by(
    gold: dict[NoteKey, list[tuple[int, int]]],
    trace: dict[NoteKey, list[dict[str, object]]],
    field: str,
) -> dict[str, int]:
    """Count detected spans that overlap no gold span, by a trace field ("entity_type")."""
    counts: dict[str, int] = {}
    for key, spans in trace.items():
        for span in spans:
            start, end = int(str(span["start"])), int(str(span["end"]))
            if not _overlaps((start, end), gold.get(key, [])):
                name = str(span[field])
                counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))
