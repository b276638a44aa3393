"""Careless uses of the PhysioNet commands: outputs written over inputs and other runs.

Every name and note here is invented. Errors must name the file and the fix, and no note text.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from deidentify import Deidentifier
from deidentify.physionet import TRACE_NAME
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
