import json
from pathlib import Path

import pytest

from deidentify.deidentifier import DeidResult, Span
from deidentify.over_redaction import OverRedactionCounter, find_content, load_terms
from medsum.cli import main
from medsum.synthetic import generate_corpus


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Takes metformin daily.", [("medication", "metformin")]),
        ("Tylenol helped.", [("medication", "tylenol")]),
        ("Lisinopril 10 mg.", [("medication", "lisinopril"), ("measurement", "mg")]),
        ("two puffs as needed", [("measurement", "puffs")]),
        ("0.5 mg at night", [("measurement", "mg")]),
        ("glucose 110 mg/dl", [("measurement", "mg/dl")]),
        ("Shortness of breath at night.", [("finding", "shortness of breath")]),
        ("chest pain and pain", [("finding", "chest pain"), ("finding", "pain")]),
        ("oxygen at 95%", [("measurement", "%")]),
        # Negative rows: look-alikes that are not clinical content.
        ("The painter came.", []),
        ("Room 12B, 3 gmail accounts", []),
        ("Saw him on 3/14.", []),
        ("aspirational goals", []),
    ],
)
def test_find_content(text: str, expected: list[tuple[str, str]]) -> None:
    found = [(occurrence.category, occurrence.term) for occurrence in find_content(text)]
    assert found == expected


def test_terms_file_categories() -> None:
    terms = load_terms()
    assert set(terms) == {"medication", "finding"}
    assert len(terms["medication"]) > 100
    assert len(terms["finding"]) > 100


def test_counter_counts_removed_by_type() -> None:
    text = "Dr. Flomax gave metformin 500 mg for cough."
    # A PERSON span covering "Flomax" removes one medication; "cough" stays.
    spans = [Span(4, 10, "PERSON", 0.9, "test")]
    result = DeidResult(
        text="Dr. Ruiz gave metformin 500 mg for cough.", spans=spans, mapping={}, patient="p"
    )
    counter = OverRedactionCounter()
    counter.add("note", text, result)
    report = counter.report()
    assert report["by_category"]["medication"] == {
        "before": 2, "removed": 1, "after": 1, "share_removed": 0.5,
    }  # fmt: skip
    assert report["by_category"]["measurement"]["removed"] == 0
    assert report["by_category"]["finding"]["before"] == 1
    assert report["overall"]["before"] == 4
    assert report["removed_by_entity_type"] == {"PERSON": 1}
    assert report["most_removed_terms"] == [
        {"category": "medication", "term": "flomax", "entity_type": "PERSON", "count": 1}
    ]


def test_over_redaction_command(tmp_path: Path) -> None:
    output = tmp_path / "over"
    code = main(
        ["bench", "over-redaction", "--corpus", "synthetic", "--notes", "4", "--workers", "1",
         "--output", str(output)]
    )  # fmt: skip
    assert code == 0
    report = json.loads(output.with_suffix(".json").read_text())
    assert report["texts"] == {"dialogue": 4, "note": 4}
    assert report["overall"]["before"] > 0
    assert 0.0 <= report["overall"]["share_removed"] <= 1.0
    assert report["settings"]["records"] == 4
    written = output.with_suffix(".json").read_text() + output.with_suffix(".md").read_text()
    for record in generate_corpus(4):
        for value in record.meta["planted_phi"]:
            assert value not in written
