import json
from pathlib import Path

import pytest

from medsum.records import (
    ColumnMapping,
    RecordFormatError,
    load_records,
    read_csv,
    read_jsonl,
    read_mts_dialog,
)
from medsum.synthetic import generate_corpus


def test_csv_with_mapping(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text('note_id,body,abstract\n7,"Seen today, stable.",Stable.\n')
    records = read_csv(path, ColumnMapping(id="note_id", text="body", summary="abstract"))
    assert len(records) == 1
    assert records[0].id == "7"
    assert records[0].text == "Seen today, stable."
    assert records[0].summary == "Stable."


def test_jsonl_keeps_unknown_fields_in_meta(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text(json.dumps({"id": "a", "text": "x", "ward": "4B"}) + "\n")
    records = read_jsonl(path)
    assert records[0].meta == {"ward": "4B"}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"id,text\n", "no rows"),
        (b"\x00\x01\x02binary", "binary"),
        (b"id,text\n1,\xff\xfe broken\n", "not valid UTF-8"),
        (b"id,body\n1,hello\n", "missing column"),
        (b"id,text\n1,\n", "empty"),
        (b'id,text\n1,"a",extra\n', "more fields"),
    ],
    ids=[
        "empty",
        "header-only",
        "binary",
        "bad-utf8",
        "missing-column",
        "empty-text",
        "extra-field",
    ],
)
def test_csv_bad_input(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(RecordFormatError, match=expected):
        read_csv(path)


def test_jsonl_malformed_line_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "1", "text": "ok"}\n{"id": 2, "text": \n')
    with pytest.raises(RecordFormatError, match=r"bad.jsonl:2: invalid JSON"):
        read_jsonl(path)


def test_jsonl_error_does_not_quote_text(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "1", "body": "Jane Roe MRN 5551234"}\n')
    with pytest.raises(RecordFormatError) as caught:
        read_jsonl(path)
    assert "Jane" not in str(caught.value)
    assert "5551234" not in str(caught.value)


def test_unknown_source_rejected() -> None:
    with pytest.raises(RecordFormatError, match="unknown source"):
        load_records("xml", Path("x.xml"))


def test_synthetic_corpus_is_deterministic() -> None:
    first = generate_corpus(5, seed=3)
    second = generate_corpus(5, seed=3)
    other = generate_corpus(5, seed=4)
    assert [r.text for r in first] == [r.text for r in second]
    assert [r.text for r in first] != [r.text for r in other]
    assert all(r.summary for r in first)
    assert all(r.meta["planted_phi"] for r in first)


@pytest.mark.shared_data
def test_mts_dialog_train_split(shared_data: Path) -> None:
    records = read_mts_dialog(shared_data / "mts-dialog" / "train.csv")
    assert len(records) == 1201
    assert records[0].section == "GENHX"
    assert records[0].task == "section"
    assert all(r.summary for r in records)
    assert len({r.patient_id for r in records}) == 1201


@pytest.mark.shared_data
def test_aci_bench_split(shared_data: Path) -> None:
    records = load_records("aci-bench", shared_data / "aci-bench" / "train.csv")
    assert len(records) == 67
    assert records[0].task == "note"


def test_csv_form_feed_in_cell_stays_in_row(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text('id,text\n1,"page one\x0cpage two"\n2,second\n')
    records = read_csv(path)
    assert [r.id for r in records] == ["1", "2"]
    assert records[0].text == "page one\x0cpage two"


def test_csv_without_header_does_not_quote_data(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("1,John Smith MRN 4417283 seen for chest pain\n2,other\n")
    with pytest.raises(RecordFormatError, match="header row") as caught:
        read_csv(path)
    assert "Smith" not in str(caught.value)


def test_duplicate_ids_rejected(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text('{"id": "MRN8812734", "text": "a"}\n{"id": "MRN8812734", "text": "b"}\n')
    with pytest.raises(RecordFormatError, match="share the same id") as caught:
        load_records("jsonl", path)
    assert "8812734" not in str(caught.value)


def test_null_id_rejected(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text('{"id": null, "text": "a"}\n')
    with pytest.raises(RecordFormatError, match="record id"):
        read_jsonl(path)
