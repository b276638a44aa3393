import json
from pathlib import Path

import pytest

from deidentify.deidentifier import Span
from deidentify.presidio_synth import (
    LABEL_MAP,
    PresidioJsonError,
    parse_examples,
    read_examples,
    score,
)

# Two texts, tokens numbered for the hand count in test_scorer_hand_computed_figures:
# "Ann Lee lives in Paris now." and "Call 555-0100 at Acme today."
RECORDS = [
    {
        "full_text": "Ann Lee lives in Paris now.",
        "spans": [
            {"entity_type": "PERSON", "start_position": 0, "end_position": 7},
            {"entity_type": "GPE", "start_position": 17, "end_position": 22},
        ],
    },
    {
        "full_text": "Call 555-0100 at Acme today.",
        "spans": [
            {"entity_type": "PHONE_NUMBER", "start_position": 5, "end_position": 13},
            {"entity_type": "ORGANIZATION", "start_position": 17, "end_position": 21},
        ],
    },
]


def _span(start: int, end: int, entity_type: str) -> Span:
    return Span(start, end, entity_type, 0.9, "test")


DETECTIONS = [
    # "Ann" only (partial name), "Paris" exact.
    [_span(0, 3, "PERSON"), _span(17, 22, "LOCATION")],
    # The phone number with the wrong type, "Acme" (an ignored label), "today" (no gold span).
    [_span(5, 13, "LOCATION"), _span(17, 21, "PERSON"), _span(22, 27, "DATE")],
]


def test_scorer_hand_computed_figures() -> None:
    result = score(parse_examples(RECORDS), DETECTIONS)
    assert result["texts"] == 2
    assert result["gold_spans"] == 4
    assert result["scored_gold_spans"] == 3
    assert result["ignored_gold_spans"] == {"ORGANIZATION": 1}
    assert result["detected_spans"] == 5
    # The "Acme" detection overlaps only an ignored gold span, so precision leaves it out.
    assert result["detections_on_ignored"] == 1

    overlap = result["span_any_overlap"]
    assert (overlap["found"], overlap["gold"]) == (3, 3)
    assert (overlap["correct"], overlap["detected"]) == (3, 4)
    assert overlap["recall"] == 1.0
    assert overlap["precision"] == 0.75
    assert overlap["f1"] == pytest.approx(6 / 7, abs=1e-4)

    typed = result["span_any_overlap_typed"]
    assert (typed["found"], typed["correct"]) == (2, 2)
    assert typed["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert typed["precision"] == 0.5
    assert typed["f1"] == pytest.approx(4 / 7, abs=1e-4)

    exact = result["span_exact"]
    assert (exact["found"], exact["correct"]) == (2, 2)
    exact_typed = result["span_exact_typed"]
    assert (exact_typed["found"], exact_typed["correct"]) == (1, 1)
    assert exact_typed["precision"] == 0.25


def test_scorer_token_figures() -> None:
    result = score(parse_examples(RECORDS), DETECTIONS)
    # Gold tokens: Ann, Lee, Paris, 555, -, 0100 ("Acme" is ignored). Predicted: Ann, Paris,
    # 555, -, 0100, today.
    tokens = result["token"]
    assert (tokens["gold"], tokens["found"]) == (6, 5)
    assert (tokens["detected"], tokens["correct"]) == (6, 5)
    assert tokens["f1"] == pytest.approx(5 / 6, abs=1e-4)
    typed = result["token_typed"]
    assert (typed["found"], typed["correct"]) == (2, 2)
    assert typed["recall"] == pytest.approx(1 / 3, abs=1e-4)


def test_scorer_per_type_and_label() -> None:
    result = score(parse_examples(RECORDS), DETECTIONS)
    per_type = result["per_type"]
    location = per_type["LOCATION"]["span_any_overlap_typed"]
    assert (location["gold"], location["found"]) == (1, 1)
    assert (location["detected"], location["correct"]) == (2, 1)
    phone = per_type["PHONE_NUMBER"]["span_any_overlap_typed"]
    assert (phone["gold"], phone["found"], phone["detected"]) == (1, 0, 0)
    date = per_type["DATE"]["span_any_overlap_typed"]
    assert (date["detected"], date["correct"]) == (1, 0)
    assert per_type["PERSON"]["token_typed"]["recall"] == 0.5
    organization = result["recall_by_label"]["ORGANIZATION"]
    assert organization == {"gold": 1, "found": 1, "recall": 1.0, "medsum_type": None}
    assert result["label_map"]["GPE"] == "LOCATION"


def test_scorer_no_detections() -> None:
    result = score(parse_examples(RECORDS), [[], []])
    assert result["span_any_overlap"]["recall"] == 0.0
    assert result["span_any_overlap"]["precision"] == 0.0
    assert result["token"]["f1"] == 0.0


def test_scorer_rejects_count_mismatch() -> None:
    with pytest.raises(ValueError, match="1 detection lists for 2 examples"):
        score(parse_examples(RECORDS), [[]])


def test_every_dataset_label_is_mapped() -> None:
    dataset_labels = {
        "PERSON", "STREET_ADDRESS", "GPE", "ORGANIZATION", "CREDIT_CARD", "DATE_TIME", "TITLE",
        "PHONE_NUMBER", "AGE", "NRP", "EMAIL_ADDRESS", "ZIP_CODE", "DOMAIN_NAME", "IBAN_CODE",
        "US_SSN", "IP_ADDRESS", "US_DRIVER_LICENSE",
    }  # fmt: skip
    assert dataset_labels <= set(LABEL_MAP)


SECRET = "Zebulon Quaxley"


def _bad_file(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "gold.json"
    path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (f'[{{"full_text": "{SECRET}", "spans": [', "invalid JSON at line 1"),
        (json.dumps({"full_text": SECRET}), "top level is a JSON dict"),
        ("[]", "list is empty"),
        (json.dumps([{"text": SECRET, "spans": []}]), "record 0: missing field 'full_text'"),
        (json.dumps([{"full_text": SECRET}]), "record 0: missing field 'spans'"),
        (json.dumps([{"full_text": SECRET, "spans": {}}]), "field 'spans' is a dict"),
        (
            json.dumps([{"full_text": SECRET, "spans": [{"entity_type": "PERSON"}]}]),
            "span 0: missing field 'start_position'",
        ),
        (
            json.dumps(
                [
                    {
                        "full_text": SECRET,
                        "spans": [
                            {"entity_type": "PERSON", "start_position": "0", "end_position": 7}
                        ],
                    }
                ]
            ),
            "field 'start_position' is a str; expected int",
        ),
        (
            json.dumps(
                [
                    {
                        "full_text": SECRET,
                        "spans": [
                            {"entity_type": "PERSON", "start_position": 8, "end_position": 99}
                        ],
                    }
                ]
            ),
            "do not fit a text of 15 characters",
        ),
        (
            json.dumps(
                [
                    {
                        "full_text": SECRET,
                        "spans": [{"entity_type": SECRET, "start_position": 0, "end_position": 7}],
                    }
                ]
            ),
            r"unknown entity_type \(not a label\)",
        ),
    ],
    ids=[
        "truncated",
        "object-at-top",
        "empty-list",
        "no-full-text",
        "no-spans",
        "spans-not-list",
        "no-start",
        "start-not-int",
        "offsets-outside",
        "label-is-text",
    ],
)
def test_reader_rejects_bad_input(tmp_path: Path, content: str, expected: str) -> None:
    with pytest.raises(PresidioJsonError, match=expected) as caught:
        read_examples(_bad_file(tmp_path, content))
    assert SECRET not in str(caught.value)
    assert "Zebulon" not in str(caught.value)


def test_reader_unknown_short_label(tmp_path: Path) -> None:
    record = {
        "full_text": SECRET,
        "spans": [{"entity_type": "VEHICLE_ID", "start_position": 0, "end_position": 7}],
    }
    with pytest.raises(PresidioJsonError, match="unknown entity_type 'VEHICLE_ID'"):
        read_examples(_bad_file(tmp_path, json.dumps([record])))


def test_reader_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PresidioJsonError, match="gold file not found"):
        read_examples(tmp_path / "absent.json")


def test_reader_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "gold.json"
    path.write_bytes(b'[{"full_text": "\xff\xfe"}]')
    with pytest.raises(PresidioJsonError, match="not valid UTF-8"):
        read_examples(path)


def test_score_deid_command_presidio_json(tmp_path: Path) -> None:
    from medsum.cli import main

    records = [
        {
            "full_text": "Please call Dr. Hartwell at (617) 555-0199 about the results.",
            "spans": [
                {"entity_type": "PERSON", "start_position": 16, "end_position": 24},
                {"entity_type": "PHONE_NUMBER", "start_position": 28, "end_position": 42},
            ],
        },
        {"full_text": "The cough improved with rest and fluids.", "spans": []},
    ]
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps(records), encoding="utf-8")
    output = tmp_path / "scores.json"
    code = main(
        [
            "score-deid",
            "--format",
            "presidio-json",
            "--gold",
            str(gold),
            "--output",
            str(output),
            "--workers",
            "1",
        ]
    )
    assert code == 0
    written = json.loads(output.read_text())
    assert written["texts"] == 2
    assert written["scored_gold_spans"] == 2
    assert written["span_any_overlap"]["recall"] == 1.0
    assert "Hartwell" not in output.read_text()


def test_score_deid_command_bad_gold(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from medsum.cli import main

    gold = _bad_file(tmp_path, json.dumps([{"full_text": SECRET}]))
    code = main(["score-deid", "--format", "presidio-json", "--gold", str(gold)])
    assert code == 2
    assert "missing field 'spans'" in caplog.text
    assert SECRET not in caplog.text


def test_score_deid_command_presidio_default(tmp_path: Path) -> None:
    from medsum.cli import main

    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps(RECORDS), encoding="utf-8")
    output = tmp_path / "scores.json"
    arguments = ["score-deid", "--format", "presidio-json", "--gold", str(gold)]
    code = main([*arguments, "--system", "presidio-default", "--output", str(output)])
    assert code == 0
    written = json.loads(output.read_text())
    assert written["system"] == "presidio-default"
    assert written["texts"] == 2
    assert written["settings"]["recognizers"] == "Presidio's default registry, all entities"


def test_score_system_unknown() -> None:
    from deidentify.presidio_synth import score_system

    with pytest.raises(ValueError, match="unknown system 'spacy'"):
        score_system("spacy", parse_examples(RECORDS))


def test_score_deid_physionet_needs_detections(tmp_path: Path) -> None:
    from medsum.cli import main

    with pytest.raises(SystemExit, match="--detections is required"):
        main(["score-deid", "--gold", str(tmp_path / "id.deid")])
