import json
import logging
import re
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from deidentify import Vault, reidentify
from deidentify.corpus import deidentify_corpus, load_deidentified
from deidentify.surrogates import SurrogateGenerator
from deidentify.vault import VaultError
from medsum.keys import KeyError_, KeyStore
from medsum.synthetic import generate_corpus

# A planted date ("11/22/2023").
DATE_VALUE = re.compile(r"\d{2}/\d{2}/\d{4}")


def detected(deidentifier, text: str, entity: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [text[s.start : s.end] for s in deidentifier.detect(text) if s.entity_type == entity]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Seen by Dr. Okafor today.", ["Okafor"]),
        ("DR. HARTWELL AWARE.", ["HARTWELL"]),
        ("Thank you, doctor. Nice to meet you.", []),
        ("My name is Sven Mbeki.", ["Sven Mbeki"]),
        ("Doctor: been fine since.", []),
    ],
    ids=["title", "upper-case", "sentence-after-doctor", "introduction", "speaker-tag"],
)
def test_titled_names(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "PERSON") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SPOKE WITH DAUGHTER PHILOMENA ON PHONE.", ["PHILOMENA"]),
        ("pt's son Nick arrived and dr. mahn met with family.", ["Nick", "mahn"]),
        ("proxy is granddaughter: Irene Czyzewicz", ["Irene Czyzewicz"]),
        ("plan to extubate tomorrow. s. roberto rrt", ["s. roberto"]),
        ("son arrived at noon.", []),
        ("dr. at bedside", []),
        ("Drink more water and dress the wound.", []),
    ],
    ids=[
        "relative-upper",
        "relative-and-lower-dr",
        "proxy",
        "signature",
        "lower-verb",
        "stop-word",
        "dr-prefixed-words",
    ],
)
def test_informal_names(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "PERSON") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Per report from Elmford Cross Hospital today.", ["Elmford Cross Hospital"]),
        ("AWAITING PLACEMENT AT WORCESTER REHAB.", ["WORCESTER REHAB"]),
        ("Seen in clinic today.", []),
    ],
    ids=["hospital", "upper-rehab", "bare-clinic"],
)
def test_facility_recognizer(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "LOCATION") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("She takes Zetia and Ativan.", []),
        ("Visit www.example-clinic.org for forms.", ["www.example-clinic.org"]),
        ("PT RESTING IN BED.PR STABLE.", []),
    ],
    ids=["drug-names", "www-url", "sentence-join-not-url"],
)
def test_clinical_look_alikes(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert [text[s.start : s.end] for s in deidentifier.detect(text)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Chart MRN 4417283 reviewed.", ["MRN 4417283"]),
        ("medical record number: 00981234", ["medical record number: 00981234"]),
        ("Potassium 4.2, sodium 139.", []),
        ("Took 2500 mg today.", []),
    ],
    ids=["labelled", "spelled-out", "lab-values", "dose"],
)
def test_mrn_recognizer(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "MEDICAL_RECORD_NUMBER") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Admitted 03/14/2021 for chest pain.", ["03/14/2021"]),
        ("Follow-up on 2021-03-14.", ["2021-03-14"]),
        ("Last seen March 14th, 2021 in clinic.", ["March 14th, 2021"]),
        ("Surgery on 4/12 went well.", ["4/12"]),
        ("Cough for two days and a fever last week.", []),
        ("Blood pressure 120/80 today.", []),
        ("Diagnosed in 2019.", ["2019"]),
        ("Pt has had diabetes for 2019 days.", []),
    ],
    ids=[
        "mdy",
        "iso",
        "written",
        "month-day",
        "durations",
        "blood-pressure",
        "year-after-cue",
        "bare-number",
    ],
)
def test_date_recognizer(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "DATE") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Call (617) 555-0142 today.", ["(617) 555-0142"]),
        ("MD to call with update: 410 392 0780 x45.", ["410 392 0780", "x45"]),
        ("Pager #12345 if needed.", ["#12345"]),
        ("PG 23456", ["23456"]),
        ("ABG 7.44/41/233/29 on 2L.", []),
        ("Gave 500 mg at 1400.", []),
        ("Daughter abroad: +44 20 7946 0958.", ["+44 20 7946 0958"]),
        ("Clinic +49 (0)30 123456 called.", ["+49 (0)30 123456"]),
        ("Reflexes +2 2 2 throughout, edema +1.", []),
        ("K+ 4.1, Na 140 +/- 2.", []),
    ],
    ids=[
        "parenthesized",
        "spaced-with-extension",
        "pager",
        "pg",
        "blood-gas",
        "dose-and-time",
        "international",
        "international-trunk-zero",
        "reflex-grades",
        "electrolytes",
    ],
)
def test_phone_recognizer(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "PHONE_NUMBER") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A 96-year-old woman.", ["96"]),
        ("He is 93 years old.", ["93"]),
        ("A 76-year-old woman.", []),
        ("Took 40 mg daily.", []),
    ],
    ids=["hyphenated", "years-old", "up-to-89-not-phi", "dose"],
)
def test_age_recognizer(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "AGE") == expected


def test_ages_over_89_become_90_plus(deidentifier) -> None:  # type: ignore[no-untyped-def]
    result = deidentifier.deidentify("A 93-year-old man and his 67-year-old wife.", "p1")
    assert "90+-year-old man" in result.text
    assert "67-year-old wife" in result.text


def test_planted_phi_never_survives(deidentifier) -> None:  # type: ignore[no-untyped-def]
    for record in generate_corpus(40, seed=11):
        result = deidentifier.deidentify(record.text, record.patient_id)
        for value in record.meta["planted_phi"]:
            assert value not in result.text, f"planted {record.id} value survived"


def test_surrogates_consistent_per_patient(deidentifier) -> None:  # type: ignore[no-untyped-def]
    # A fixed key: with the session's random key, "John" and "Whitfield" draw the same first
    # surrogate about once in 3,000 keys, and "Whitfield" then takes its next candidate.
    from deidentify import Deidentifier

    deid = Deidentifier(deidentifier.analyzer, deidentifier.keys)
    deid.surrogates = SurrogateGenerator(b"k" * 32)
    first = deid.deidentify("Patient John Whitfield was seen.", "patient-a")
    second = deid.deidentify("Mr. Whitfield returned for follow-up.", "patient-a")
    other = deid.deidentify("Mr. Whitfield returned for follow-up.", "patient-b")
    surrogate = first.mapping and [s for s, o in first.mapping.items() if o == "Whitfield"]
    assert surrogate, "the surname should map to a token surrogate"
    assert surrogate[0] in second.text
    assert second.text != other.text


def test_date_shift_preserves_intervals() -> None:
    generator = SurrogateGenerator(b"k" * 32)
    patient = generator.pseudonym("p1")
    first = generator.surrogate("DATE", "01/10/2020", patient)
    second = generator.surrogate("DATE", "02/20/2020", patient)
    gap = datetime.strptime(second, "%m/%d/%Y") - datetime.strptime(first, "%m/%d/%Y")
    assert gap.days == 41
    assert first != "01/10/2020"


def test_unparseable_date_is_redacted_not_kept() -> None:
    generator = SurrogateGenerator(b"k" * 32)
    assert generator.surrogate("DATE", "the Ides of March", "p") == "[DATE]"


def test_unknown_entity_is_redacted() -> None:
    generator = SurrogateGenerator(b"k" * 32)
    assert generator.surrogate("IP_ADDRESS", "10.1.2.3", "p") == "[IP]"


def test_reidentify_restores_original(deidentifier) -> None:  # type: ignore[no-untyped-def]
    text = "Dr. Okafor saw Alice Brennan on 03/04/2021, phone (415) 555-0199."
    result = deidentifier.deidentify(text, "p9")
    assert "Okafor" not in result.text
    assert reidentify(result.text, result.mapping) == text


def test_trace_has_no_text(deidentifier) -> None:  # type: ignore[no-untyped-def]
    result = deidentifier.deidentify("Alice Brennan, MRN 5512345.", "p")
    trace = json.dumps([span.to_json() for span in result.spans])
    assert "Brennan" not in trace
    assert "5512345" not in trace
    assert {"start", "end", "entity_type", "score", "recognizer"} <= set(result.spans[0].to_json())


def test_vault_round_trip_and_tamper(tmp_path: Path, key_dir: Path) -> None:
    keys = KeyStore.open(key_dir)
    vault = Vault(tmp_path / "vault.sqlite", keys)
    vault.put("record-1", {"Avery": "Alice"})
    assert vault.get("record-1") == {"Avery": "Alice"}
    raw = (tmp_path / "vault.sqlite").read_bytes()
    assert b"Alice" not in raw
    vault.close()
    connection = sqlite3.connect(tmp_path / "vault.sqlite")
    connection.execute("UPDATE entries SET record = 'record-2' WHERE record = 'record-1'")
    connection.commit()
    connection.close()
    vault = Vault(tmp_path / "vault.sqlite", keys)
    with pytest.raises(VaultError, match="authentication"):
        vault.get("record-2")


def test_vault_key_rotation(tmp_path: Path) -> None:
    keys = KeyStore.open(tmp_path / "keys")
    vault = Vault(tmp_path / "data" / "vault.sqlite", keys)
    vault.put("r", {"a": "b"})
    old = keys.current_id
    new = keys.rotate()
    assert new != old
    assert vault.get("r") == {"a": "b"}
    assert vault.reencrypt_all() == 1
    assert vault.get("r") == {"a": "b"}


def test_vault_rejects_keys_inside_data_dir(tmp_path: Path) -> None:
    keys = KeyStore.open(tmp_path / "data" / "keys")
    with pytest.raises(KeyError_, match="outside"):
        Vault(tmp_path / "data" / "vault.sqlite", keys)


def test_corpus_resume_and_no_phi_in_outputs(tmp_path: Path, deidentifier, caplog) -> None:  # type: ignore[no-untyped-def]
    records = generate_corpus(6, seed=5)
    output = tmp_path / "deid"
    caplog.set_level(logging.DEBUG)
    deidentify_corpus(records[:3], output, deidentifier, progress=False)
    report = deidentify_corpus(records, output, deidentifier, progress=False)
    assert report["processed_this_run"] == 3
    restored = load_deidentified(output)
    assert [r.id for r in restored] == [deidentifier.surrogates.record_key(r.id) for r in records]
    # Each record's PHI is gone from its own output and from every log line. A date may appear
    # in another record's output by chance, when that patient's date shift lands on it.
    for record, written in zip(records, restored, strict=True):
        for value in record.meta["planted_phi"]:
            assert value not in written.text
            assert value not in caplog.text
    everything = "".join(p.read_text() for p in output.glob("*.json*"))
    for record in records:
        for value in record.meta["planted_phi"]:
            if not DATE_VALUE.fullmatch(value):
                assert value not in everything
    originals = {record.patient_id for record in records}
    for record in restored:
        assert record.patient_id not in originals
        assert record.patient_id is not None
        assert len(record.patient_id) == 16


def test_corpus_workers_give_the_same_output(tmp_path: Path, deidentifier, caplog) -> None:  # type: ignore[no-untyped-def]
    # Forked workers, chunked records and a resume in the middle write what one process writes.
    records = generate_corpus(70, seed=7)
    caplog.set_level(logging.DEBUG)
    deidentify_corpus(records, tmp_path / "one", deidentifier, progress=False)
    deidentify_corpus(records[:5], tmp_path / "two", deidentifier, progress=False, workers=2)
    report = deidentify_corpus(records, tmp_path / "two", deidentifier, progress=False, workers=2)
    assert report["processed_this_run"] == 65
    for name in ("records.jsonl", "trace.jsonl"):
        assert (tmp_path / "one" / name).read_text() == (tmp_path / "two" / name).read_text()
    one = Vault(tmp_path / "one" / "vault.sqlite", deidentifier.keys)
    two = Vault(tmp_path / "two" / "vault.sqlite", deidentifier.keys)
    for record in load_deidentified(tmp_path / "one"):
        assert one.get(record.id) == two.get(record.id)
    planted = {value for record in records for value in record.meta["planted_phi"]}
    for value in planted:
        assert value not in caplog.text


def test_ages_over_89_are_not_restored(deidentifier) -> None:  # type: ignore[no-untyped-def]
    result = deidentifier.deidentify("She is 93 years old and her husband is 97 years old.", "p")
    assert "90+" not in result.mapping
    assert reidentify(result.text, result.mapping) == result.text


def test_shared_surrogate_is_never_restored_wrongly() -> None:
    from deidentify.deidentifier import _add_mapping

    mapping: dict[str, str] = {}
    ambiguous: set[str] = set()
    _add_mapping(mapping, ambiguous, "Oakley", "Lewis")
    _add_mapping(mapping, ambiguous, "Oakley", "Wright")
    _add_mapping(mapping, ambiguous, "Oakley", "Lewis")
    assert "Oakley" not in mapping
    assert reidentify("Mr. Oakley", mapping) == "Mr. Oakley"


@pytest.mark.parametrize("key_id", ["../evil", "/tmp/evil", "enc-1/../../x", ""])
def test_key_store_rejects_path_like_ids(tmp_path: Path, key_id: str) -> None:
    keys = KeyStore.open(tmp_path / "keys")
    with pytest.raises(KeyError_, match="invalid key id"):
        keys.read(key_id)


def test_vault_rejects_other_key_store(tmp_path: Path) -> None:
    Vault(tmp_path / "data" / "vault.sqlite", KeyStore.open(tmp_path / "keys-a")).close()
    with pytest.raises(VaultError, match="MEDSUM_KEY_DIR"):
        Vault(tmp_path / "data" / "vault.sqlite", KeyStore.open(tmp_path / "keys-b"))


def test_names_never_share_a_surrogate(tmp_path: Path) -> None:
    """Across many keys, the names in one text get distinct surrogates and restore exactly."""
    from deidentify import Deidentifier

    analyzer = Deidentifier.create(KeyStore.open(tmp_path / "k0")).analyzer
    text = "Dr. Okafor saw Alice Brennan and John Whitfield on 03/04/2021."
    for index in range(40):
        deid = Deidentifier(analyzer, KeyStore.open(tmp_path / f"keys-{index}"))
        result = deid.deidentify(text, "p9")
        assert reidentify(result.text, result.mapping) == text


def test_note_and_summary_share_surrogates(tmp_path: Path, deidentifier) -> None:  # type: ignore[no-untyped-def]
    # One text for both: the summary's bare surname is found through the note's "Dr." and gets
    # the note's surrogate, and the trace keeps offsets into each text.
    from medsum.records import Record

    note = "Seen by Dr. Quackenbush on 03/14/2021 for cough."
    summary = "Quackenbush advised rest."
    record = Record(id="r1", text=note, summary=summary, patient_id="p1")
    deidentify_corpus([record], tmp_path / "out", deidentifier, progress=False)
    [written] = load_deidentified(tmp_path / "out")
    assert "Quackenbush" not in written.text
    assert written.summary is not None
    assert "Quackenbush" not in written.summary
    surrogate = written.summary.split()[0]
    assert surrogate in written.text
    trace = json.loads((tmp_path / "out" / "trace.jsonl").read_text())
    [summary_span] = trace["summary_spans"]
    assert (summary_span["start"], summary_span["end"]) == (0, len("Quackenbush"))
    assert all(span["end"] <= len(note) for span in trace["text_spans"])
