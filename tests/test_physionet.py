from pathlib import Path

import pytest

from deidentify.physionet import (
    TRACE_NAME,
    deidentify_notes,
    false_positives_by,
    read_notes,
    read_spans,
    read_trace,
    read_typed_gold,
    recall_by_type,
    score_overlap,
    score_tokens,
    write_spans,
)

NOTES = (
    "START_OF_RECORD=7||||1||||\n"
    "PT SEEN BY DR. HARTWELL ON 3/14. CALL 617-555-0199.\n||||END_OF_RECORD\n"
    "START_OF_RECORD=7||||2||||\nSTABLE OVERNIGHT.\n||||END_OF_RECORD\n"
)


def test_span_file_round_trip(tmp_path: Path) -> None:
    spans = {("7", "1"): [(3, 9), (20, 24)], ("7", "2"): []}
    write_spans(tmp_path / "out.phi", spans.items())
    assert read_spans(tmp_path / "out.phi") == spans


def test_overlap_scoring_rule() -> None:
    gold = {("1", "1"): [(0, 5), (10, 15), (20, 25)]}
    detected = {("1", "1"): [(3, 7), (14, 18), (30, 35), (40, 41)]}
    scores = score_overlap(gold, detected)
    assert scores["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert scores["precision"] == 0.5
    assert scores["false_positives"] == 2
    assert scores["exact_recall"] == 0.0


def test_token_scoring(tmp_path: Path) -> None:
    (tmp_path / "id.text").write_text(NOTES, encoding="latin-1")
    notes = read_notes(tmp_path / "id.text")
    # Note 1: "DR. HARTWELL" is gold at 11-23 (the title is a token too); the detector finds
    # "HARTWELL" and "3/14" (tokens "3" and "14"), which is not gold.
    gold = {("7", "1"): [(11, 23)]}
    detected = {("7", "1"): [(15, 23), (27, 31)]}
    scores = score_tokens(notes, gold, detected)
    assert scores["gold_tokens"] == 2
    assert scores["detected_tokens"] == 3
    assert scores["recall"] == 0.5
    assert scores["precision"] == pytest.approx(1 / 3, abs=1e-4)


def test_malformed_span_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.phi"
    path.write_text("12 12 15\n")
    with pytest.raises(ValueError, match="expected 'start start end'"):
        read_spans(path)


def test_notes_reader_and_deidentify(tmp_path: Path, deidentifier) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "id.text").write_text(NOTES, encoding="latin-1")
    notes = read_notes(tmp_path / "id.text")
    assert [(n.patient, n.note) for n in notes] == [("7", "1"), ("7", "2")]
    detections = deidentify_notes(notes, tmp_path / "out", deidentifier, progress=False)
    written = (tmp_path / "out" / "id.text").read_text(encoding="latin-1")
    assert "HARTWELL" not in written
    assert "617-555-0199" not in written
    assert read_spans(tmp_path / "out" / "detections.phi") == detections
    # The trace contains offsets, types and recognizers of the same spans, and no note text.
    trace_text = (tmp_path / "out" / TRACE_NAME).read_text()
    assert "HARTWELL" not in trace_text
    assert "617" not in trace_text
    trace = read_trace(tmp_path / "out" / TRACE_NAME)
    assert [(s["start"], s["end"]) for s in trace[("7", "1")]] == detections[("7", "1")]
    assert {s["entity_type"] for s in trace[("7", "1")]} >= {"PERSON", "PHONE_NUMBER"}


def test_notes_with_two_workers(tmp_path: Path, deidentifier) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "id.text").write_text(NOTES * 40, encoding="latin-1")
    notes = read_notes(tmp_path / "id.text")
    one = deidentify_notes(notes, tmp_path / "one", deidentifier, progress=False)
    two = deidentify_notes(notes, tmp_path / "two", deidentifier, progress=False, workers=2)
    assert one == two
    for name in ("id.text", "detections.phi", TRACE_NAME):
        assert (tmp_path / "one" / name).read_text() == (tmp_path / "two" / name).read_text()


def test_false_positives_by_trace_field(tmp_path: Path) -> None:
    gold = {("1", "1"): [(0, 5)]}
    trace = {
        ("1", "1"): [
            {"start": 1, "end": 3, "entity_type": "PERSON", "recognizer": "A"},
            {"start": 8, "end": 9, "entity_type": "DATE", "recognizer": "B"},
            {"start": 10, "end": 12, "entity_type": "DATE", "recognizer": "A"},
        ]
    }
    assert false_positives_by(gold, trace, "entity_type") == {"DATE": 2}
    assert false_positives_by(gold, trace, "recognizer") == {"B": 1, "A": 1}
    (tmp_path / "bad.jsonl").write_text('{"patient": "1"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1: expected a JSON object"):
        read_trace(tmp_path / "bad.jsonl")


@pytest.mark.shared_data
def test_scorer_reproduces_physionet_tool_figures(shared_data: Path) -> None:
    folder = shared_data / "physionet-deid"
    scores = score_overlap(
        read_spans(folder / "id.deid"), read_spans(folder / "deid-tool-output.phi")
    )
    assert scores["gold_spans"] == 553
    assert scores["recall"] == 0.9656
    assert scores["precision"] == 0.7467
    assert scores["false_positives"] == 173
    by_type = recall_by_type(
        read_typed_gold(folder / "id-phi.phrase"), read_spans(folder / "deid-tool-output.phi")
    )
    assert sum(row["gold"] for row in by_type.values()) == 553


@pytest.mark.shared_data
def test_medsum_on_the_physionet_split(tmp_path: Path, shared_data: Path, deidentifier) -> None:  # type: ignore[no-untyped-def]
    # A floor under the published figures (docs/results.md), so that a change that loses
    # identifiers on real nursing notes fails here. The figures themselves come from the CLI.
    folder = shared_data / "physionet-deid"
    notes = read_notes(folder / "id.text")
    detections = deidentify_notes(notes, tmp_path / "out", deidentifier, progress=False)
    scores = score_overlap(read_spans(folder / "id.deid"), detections)
    assert scores["recall"] >= 0.94
    assert scores["precision"] >= 0.90
