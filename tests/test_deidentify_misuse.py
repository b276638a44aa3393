"""Inputs that a careless user or an attacker would try: clashing surrogates, sentinel dates.

Every name, place and note here is invented.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from deidentify import Deidentifier, Vault, reidentify
from deidentify.corpus import deidentify_corpus
from deidentify.surrogates import SurrogateGenerator
from medsum.keys import KeyStore
from medsum.records import Record

SYLLABLES = ["Zor", "Quen", "Vask", "Brun", "Telm", "Ostr", "Kav", "Drel", "Mun", "Yst"]


def clashing_surnames(deid: Deidentifier, patient_id: str) -> tuple[str, str]:
    """Return two invented surnames whose first surrogate draw is the same for this patient.

    The name pool has about 3,000 entries and 720 surnames are tried: about 86 pairs share a
    draw on average, and the chance that none does is below 1e-30.
    """
    patient = deid.pseudonym(patient_id)
    first_draw: dict[str, str] = {}
    for head, middle, tail in itertools.permutations(SYLLABLES, 3):
        surname = f"{head}{middle.lower()}{tail.lower()}ek"
        draw = deid.surrogates.name_token(surname, patient)
        assert draw is not None
        if draw in first_draw:
            return first_draw[draw], surname
        first_draw[draw] = surname
    raise AssertionError("no two surnames share a surrogate draw")


def test_summary_clash_not_restored_wrongly(tmp_path: Path, deidentifier) -> None:  # type: ignore[no-untyped-def]
    # In the text, the second surname skips the draw that the first one took. The summary
    # names only the second, so there it takes the surrogate of the first.
    first, second = clashing_surnames(deidentifier, "p-clash")
    text = f"Dr. {first} spoke with Dr. {second} today."
    record = Record(id="r1", text=text, patient_id="p-clash", summary=f"Dr. {second} agreed.")
    detected = [text[s.start : s.end] for s in deidentifier.detect(text)]
    assert detected == [first, second]

    deidentify_corpus([record], tmp_path, deidentifier, progress=False)
    row = json.loads((tmp_path / "records.jsonl").read_text(encoding="utf-8"))
    vault = Vault(tmp_path / "vault.sqlite", deidentifier.keys)
    mapping = vault.get(row["id"])
    vault.close()

    restored_text = reidentify(row["text"], mapping)
    restored_summary = reidentify(row["summary"], mapping)
    assert f"Dr. {second} spoke" not in restored_text
    assert f"Dr. {first} agreed" not in restored_summary
    assert restored_text.endswith(f"Dr. {second} today.")


def test_summary_without_clash_restored(tmp_path: Path, deidentifier) -> None:  # type: ignore[no-untyped-def]
    text = "Dr. Quillfeather saw the patient. Plan per Dr. Quillfeather."
    record = Record(id="r2", text=text, patient_id="p-plain", summary="Dr. Quillfeather agreed.")
    deidentify_corpus([record], tmp_path, deidentifier, progress=False)
    row = json.loads((tmp_path / "records.jsonl").read_text(encoding="utf-8"))
    vault = Vault(tmp_path / "vault.sqlite", deidentifier.keys)
    mapping = vault.get(row["id"])
    vault.close()
    assert "Quillfeather" not in row["text"] + row["summary"]
    assert reidentify(row["text"], mapping) == text
    assert reidentify(row["summary"], mapping) == "Dr. Quillfeather agreed."


def patient_with_shift(generator: SurrogateGenerator, positive: bool) -> str:
    for index in range(1000):
        patient = f"patient-{index}"
        if (generator.date_shift_days(patient) > 0) == positive:
            return patient
    raise AssertionError("no patient with a shift of that sign")


@pytest.mark.parametrize(
    ("sentinel", "positive"),
    [("12/31/9999", True), ("9999-12-31", True), ("01/01/0001", False)],
    ids=["us-9999", "iso-9999", "year-1"],
)
def test_sentinel_date_is_redacted(tmp_path: Path, sentinel: str, positive: bool) -> None:
    # Some EHR exports write 12/31/9999 as an open end date. Shifting it past year 9999 must
    # not stop the run at that record.
    generator = SurrogateGenerator(KeyStore.open(tmp_path / "keys").hmac_key)
    patient = patient_with_shift(generator, positive)
    assert generator.surrogate("DATE", sentinel, patient) == "[DATE]"


def test_sentinel_date_in_note(deidentifier) -> None:  # type: ignore[no-untyped-def]
    # deidentify() shifts by the pseudonym of the patient id, not by the id itself.
    patient_id = next(
        f"patient-{index}"
        for index in range(1000)
        if deidentifier.surrogates.date_shift_days(deidentifier.pseudonym(f"patient-{index}")) > 0
    )
    text = "Consent on file, expires 12/31/9999."
    result = deidentifier.deidentify(text, patient_id=patient_id)
    assert "9999" not in result.text
    assert result.text == "Consent on file, expires [DATE]."


def test_corpus_names_overlong_record(tmp_path: Path, deidentifier, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # spaCy rejects texts over nlp.max_length (1,000,000 characters by default), which is
    # lowered here to keep the test small. Worker processes would report only the error type.
    nlp = deidentifier.analyzer.nlp_engine.nlp["en"]
    monkeypatch.setattr(nlp, "max_length", 60)
    records = [
        Record(id="r1", text="Pt stable overnight.", patient_id="p1"),
        Record(id="r2", text="Dr. Quillfeather saw pt. " * 3, patient_id="p1"),
    ]
    with pytest.raises(ValueError, match="text of record 2 has 75 characters, more than the 60"):
        deidentify_corpus(records, tmp_path, deidentifier, progress=False, workers=2)
    assert not (tmp_path / "records.jsonl").exists()


def test_physionet_names_overlong_note(tmp_path: Path, deidentifier, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from deidentify.physionet import PhysioNetNote, deidentify_notes

    monkeypatch.setattr(deidentifier.analyzer.nlp_engine.nlp["en"], "max_length", 60)
    notes = [PhysioNetNote("4", "2", "Dr. Quillfeather saw pt. " * 3)]
    with pytest.raises(ValueError, match="note of patient 4 note 2 has 75 characters") as error:
        deidentify_notes(notes, tmp_path, deidentifier, progress=False)
    assert "Quillfeather" not in str(error.value)
