"""Careless uses of the PhysioNet commands: outputs over inputs, mismatched notes and traces.

Every name and note here is invented. Errors must name the file and the fix, and no note text.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from deidentify import Deidentifier
from deidentify.physionet import TRACE_NAME, read_notes, read_spans, read_trace
from deidentify.policy import Policy
from deidentify.resume import ResumeError, check_resume
from medsum.cli import main
from medsum.keys import KeyStore

NAME = "Quillfeather"
NOTES = (
    "START_OF_RECORD=3||||1||||\n"
    f"Pt seen by Dr. {NAME} on 3/14. Call 617-555-0193.\n||||END_OF_RECORD\n"
    "START_OF_RECORD=3||||2||||\nStable overnight.\n||||END_OF_RECORD\n"
)
GOLD = "Patient 3\tNote 1\n15\t15\t27\n"
DETECTIONS = "Patient 3\tNote 1\n15\t15\t27\n31\t31\t35\nPatient 3\tNote 2\n"
TRACE_LINES = [
    {
        "patient": "3",
        "note": "1",
        "spans": [
            {"start": 15, "end": 27, "entity_type": "PERSON", "score": 0.9, "recognizer": "A"},
            {"start": 31, "end": 35, "entity_type": "DATE", "score": 0.5, "recognizer": "B"},
        ],
    },
    {"patient": "3", "note": "2", "spans": []},
]


@pytest.fixture()
def scored(tmp_path: Path) -> Path:
    """A folder with id.text, id.deid, detections.phi and its matching trace."""
    (tmp_path / "id.text").write_text(NOTES, encoding="latin-1")
    (tmp_path / "id.deid").write_text(GOLD, encoding="latin-1")
    (tmp_path / "detections.phi").write_text(DETECTIONS, encoding="latin-1")
    trace = "".join(json.dumps(line) + "\n" for line in TRACE_LINES)
    (tmp_path / TRACE_NAME).write_text(trace, encoding="utf-8")
    return tmp_path


def no_analyzer(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
    raise AssertionError("the analyzer was built before the output check")


def test_deidentify_keeps_input_notes(scored: Path, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(Deidentifier, "create", classmethod(no_analyzer))
    caplog.set_level(logging.DEBUG)
    notes = scored / "id.text"
    argv = ["deidentify", "--format", "physionet-deid", "--input", str(notes)]

    assert main([*argv, "--output", str(scored)]) == 2
    assert notes.read_text(encoding="latin-1") == NOTES
    assert "would overwrite" in caplog.text
    assert NAME not in caplog.text


def test_deidentify_keeps_corpus_trace(scored: Path, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(Deidentifier, "create", classmethod(no_analyzer))
    corpus = scored / "corpus"
    corpus.mkdir()
    (corpus / "records.jsonl").write_text('{"id": "x"}\n', encoding="utf-8")
    (corpus / TRACE_NAME).write_text('{"record": "x"}\n', encoding="utf-8")
    argv = ["deidentify", "--format", "physionet-deid", "--input", str(scored / "id.text")]

    assert main([*argv, "--output", str(corpus)]) == 2
    assert (corpus / TRACE_NAME).read_text(encoding="utf-8") == '{"record": "x"}\n'
    assert "write to a new output directory" in caplog.text


@pytest.mark.parametrize(
    ("own", "other"),
    [("records.jsonl", "detections.phi"), ("records.jsonl", "resources.ndjson")],
    ids=["csv-into-physionet", "csv-into-fhir"],
)
def test_resume_rejects_other_kind(tmp_path: Path, own: str, other: str) -> None:
    (tmp_path / other).write_text("\n", encoding="utf-8")
    keys = KeyStore.open(tmp_path.parent / f"{tmp_path.name}-keys")
    with pytest.raises(ResumeError, match=f"contains {re.escape(other)}"):
        check_resume(tmp_path, Policy(), keys, output_name=own)


def test_fhir_resume_rejects_corpus_output(tmp_path: Path) -> None:
    (tmp_path / "records.jsonl").write_text('{"id": "x"}\n', encoding="utf-8")
    keys = KeyStore.open(tmp_path.parent / f"{tmp_path.name}-keys")
    with pytest.raises(ResumeError, match=r"contains records\.jsonl"):
        check_resume(tmp_path, Policy(), keys, output_name="resources.ndjson")


@pytest.mark.parametrize("target", ["detections.phi", "id.deid", "id.text", TRACE_NAME])
def test_score_output_keeps_inputs(scored: Path, target: str) -> None:
    before = (scored / target).read_bytes()
    argv = ["score-deid", "--gold", str(scored / "id.deid")]
    argv += ["--detections", str(scored / "detections.phi"), "--notes", str(scored / "id.text")]

    with pytest.raises(SystemExit, match="would overwrite"):
        main([*argv, "--output", str(scored / target)])
    assert (scored / target).read_bytes() == before


def test_score_writes_new_output(scored: Path) -> None:
    argv = ["score-deid", "--gold", str(scored / "id.deid")]
    argv += ["--detections", str(scored / "detections.phi"), "--notes", str(scored / "id.text")]

    assert main([*argv, "--output", str(scored / "scores.json")]) == 0
    scores = json.loads((scored / "scores.json").read_text())
    assert scores["overall"]["false_positives"] == 1
    assert scores["false_positives_by_entity_type"] == {"DATE": 1}
    assert scores["tokens"]["gold_tokens"] == 1


def test_score_rejects_other_notes(scored: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    other = scored / "other.text"
    other.write_text("START_OF_RECORD=9||||9||||\nShort.\n||||END_OF_RECORD\n", encoding="latin-1")
    argv = ["score-deid", "--gold", str(scored / "id.deid")]
    argv += ["--detections", str(scored / "detections.phi"), "--notes", str(other)]

    assert main(argv) == 2
    assert "does not contain" in caplog.text
    assert "pass the id.text" in caplog.text


def test_score_rejects_span_after_note_end(scored: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    short = scored / "short.text"
    short.write_text(
        "START_OF_RECORD=3||||1||||\nPt seen.\n||||END_OF_RECORD\n"
        "START_OF_RECORD=3||||2||||\nStable.\n||||END_OF_RECORD\n",
        encoding="latin-1",
    )
    argv = ["score-deid", "--gold", str(scored / "id.deid")]
    argv += ["--detections", str(scored / "detections.phi"), "--notes", str(short)]

    assert main(argv) == 2
    assert "ends at character 27" in caplog.text


def test_score_rejects_stale_trace(scored: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    # Another tool's detections written over medsum's leave medsum's trace behind.
    (scored / "detections.phi").write_text("Patient 3\tNote 1\n15\t15\t27\n", encoding="latin-1")
    argv = ["score-deid", "--gold", str(scored / "id.deid")]

    assert main([*argv, "--detections", str(scored / "detections.phi")]) == 2
    assert "does not match the detections" in caplog.text


@pytest.mark.parametrize(
    "spans",
    [
        '"abc"',
        '[{"start": 1}]',
        '[{"start": "1", "end": 3, "entity_type": "X", "recognizer": "A"}]',
    ],
    ids=["string", "missing-fields", "text-offset"],
)
def test_trace_with_invalid_spans(tmp_path: Path, spans: str) -> None:
    path = tmp_path / TRACE_NAME
    path.write_text(f'{{"patient": "3", "note": "1", "spans": {spans}}}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=rf"{TRACE_NAME}:1: expected a JSON object"):
        read_trace(path)


def test_trace_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / TRACE_NAME
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ValueError, match=rf"{TRACE_NAME} is not UTF-8 text"):
        read_trace(path)


def test_span_file_with_superscript_digit(tmp_path: Path) -> None:
    # "²" is a Latin-1 character that str.isdigit() accepts and int() rejects.
    path = tmp_path / "id.deid"
    path.write_text("Patient 3\tNote 1\n15\t15\t2\xb2\n", encoding="latin-1")
    with pytest.raises(ValueError, match=r"id.deid:2: expected 'start start end'"):
        read_spans(path)


def test_notes_missing_footer_before_next(tmp_path: Path) -> None:
    # The first record's footer is missing, so its text would run into the second record.
    path = tmp_path / "id.text"
    path.write_text(NOTES.replace("0193.\n||||END_OF_RECORD\n", "0193.\n", 1), encoding="latin-1")
    with pytest.raises(ValueError, match=r"patient 3 note 1 has no .* marker before the next"):
        read_notes(path)
