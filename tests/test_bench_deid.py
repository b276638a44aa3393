import json
from pathlib import Path

import pytest

from deidentify.bench import load_corpus
from medsum.cli import main
from medsum.synthetic import generate_corpus


def test_bench_deid_synthetic(tmp_path: Path) -> None:
    output = tmp_path / "bench-deid"
    code = main(
        ["bench", "deid", "--corpus", "synthetic", "--notes", "5", "--workers", "2",
         "--pipe-batch", "2", "--output", str(output)]
    )  # fmt: skip
    assert code == 0
    report = json.loads(output.with_suffix(".json").read_text())
    assert report["notes"] == 5
    assert report["workers"] == 2
    modes = report["modes"]
    assert set(modes) == {
        "presidio_default", "medsum_full_pipeline", "medsum_plain", "medsum_batch",
        "medsum_pool",
    }  # fmt: skip
    for figures in modes.values():
        assert figures["notes_per_s"] > 0
        assert figures["chars_per_s"] > 0
    assert modes["medsum_batch"]["identical_to_plain"] is True
    assert modes["medsum_pool"]["identical_to_plain"] is True
    assert modes["medsum_pool"]["processes"] == 2
    assert report["ratio_to_presidio_default"]["presidio_default"] == 1.0
    page = output.with_suffix(".md").read_text()
    assert "| medsum_pool | 2 |" in page
    # No planted identifier reaches the report files.
    written = output.with_suffix(".json").read_text() + page
    for record in generate_corpus(5):
        for value in record.meta["planted_phi"]:
            assert value not in written


def test_bench_deid_rejects_zero_notes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert main(["bench", "deid", "--notes", "0", "--output", str(tmp_path / "bench")]) == 2
    assert "number of notes must be at least 1, got 0" in caplog.text


def test_bench_missing_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDSUM_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="set MEDSUM_DATA_DIR"):
        load_corpus("physionet", 5)


def test_load_corpus_unknown() -> None:
    with pytest.raises(ValueError, match="unknown corpus 'notes'"):
        load_corpus("notes", 5)


@pytest.mark.shared_data
def test_load_corpus_shared(shared_data: Path) -> None:
    notes = load_corpus("physionet", 3)
    assert len(notes) == 3
    assert all(note.patient_id for note in notes)
    dialogues = load_corpus("mts-dialog")
    assert len(dialogues) == 1201 + 100 + 200
