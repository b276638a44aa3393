from pathlib import Path

import pytest

from deidentify.physionet import (
    deidentify_notes,
    read_notes,
    read_spans,
    read_typed_gold,
    recall_by_type,
    score_overlap,
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
