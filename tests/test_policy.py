"""Transformation policies: actions per entity type, YAML validation, resume checks and the CLI."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
import string
import sys
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry

import deidentify.surrogates as surrogates_module
from deidentify import Deidentifier, reidentify
from deidentify.corpus import (
    POLICY_STATE_NAME,
    ResumeError,
    deidentify_corpus,
    load_deidentified,
)
from deidentify.lexicons import drug_names, region_names
from deidentify.policy import ACTIONS, ENTITY_TYPES, Action, Policy, PolicyError
from deidentify.surrogates import (
    CITY_POOL,
    NAME_POOL,
    REDACTION_TAGS,
    STREET_POOL,
    SurrogateGenerator,
    redaction_tag,
)
from deidentify.transform import transform
from deidentify.zipcode import RESTRICTED_PREFIXES, is_zip_code, safe_harbor_zip
from medsum.cli import main
from medsum.config import ConfigError, load_config
from medsum.keys import KeyStore
from medsum.synthetic import generate_corpus

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_POLICY = PROJECT_ROOT / "configs" / "deid-policy.yaml"
KEY = b"k" * 32
NOTE = "Dr. Okafor saw Alice Brennan on 03/04/2021, phone (415) 555-0199."
NOTE_PHI = ["Okafor", "Alice", "Brennan", "03/04/2021", "(415) 555-0199", "555-0199"]


def pseudonym_pattern(label: str) -> str:
    return rf"\[{label}-[0-9A-F]{{6}}\]"


def write_policy(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def keys(tmp_path: Path) -> KeyStore:
    return KeyStore.open(tmp_path / "keys")


def with_policy(deidentifier: Deidentifier, keys: KeyStore, policy: Policy) -> Deidentifier:
    """A de-identifier that shares the session's analyzer, with its own keys and policy."""
    return Deidentifier(deidentifier.analyzer, keys, policy=policy)


# One value per family of entity type, with the shape its surrogate must have.
FAMILIES = [
    ("PERSON", "Dr. Ottilie Quackenbush", r"Dr\. [A-Z][a-z]+ [A-Z][a-z]+"),
    ("LOCATION", "Fairview", "|".join(map(re.escape, CITY_POOL))),
    ("LOCATION", "02115-1234", r"021XX"),
    ("LOCATION", "27 Alder St., Apt 4B", r"\d\d [A-Z][a-z]+ St\., Apt \d[A-Z]"),
    ("DATE", "03/14/2021", r"\d\d/\d\d/\d{4}"),
    ("AGE", "93", r"90\+"),
    ("PHONE_NUMBER", "(617) 555-0142", r"\(\d{3}\) \d{3}-\d{4}"),
    ("MEDICAL_RECORD_NUMBER", "MRN 4417283", r"MRN \d{7}"),
    ("US_SSN", "078-05-1120", r"\d{3}-\d{2}-\d{4}"),
    ("EMAIL_ADDRESS", "ottilie.q@example.net", r"[a-z]+\d{1,3}@example\.org"),
    ("URL", "www.example-clinic.org", re.escape("[URL]")),
    ("IP_ADDRESS", "10.1.2.3", re.escape("[IP]")),
    ("CREDIT_CARD", "4111 1111 1111 1111", re.escape("[ACCOUNT]")),
    ("IBAN_CODE", "DE89370400440532013000", re.escape("[ACCOUNT]")),
    ("HEALTH_PLAN_NUMBER", "XKH4471920", r"[A-Z]{3}\d{7}"),
    ("ACCOUNT_NUMBER", "88120374", r"\d{8}"),
    ("LICENSE_NUMBER", "S530-4417-2291", r"[A-Z]\d{3}-\d{4}-\d{4}"),
    ("VEHICLE_ID", "1HGCM82633A004352", r"\d[A-Z]{4}\d{5}[A-Z]\d{6}"),
    ("DEVICE_ID", "pjn448812", r"[a-z]{3}\d{6}"),
    ("ID_NUMBER", "24-1187", r"\d\d-\d{4}"),
]
FAMILY_IDS = [f"{entity}-{value}" for entity, value, _ in FAMILIES]
PSEUDONYM_LABELS = {
    "PERSON": "NAME",
    "LOCATION": "LOCATION",
    "DATE": "DATE",
    "AGE": "AGE",
    "PHONE_NUMBER": "PHONE",
    "MEDICAL_RECORD_NUMBER": "MRN",
    "US_SSN": "SSN",
    "EMAIL_ADDRESS": "EMAIL",
    "URL": "URL",
    "IP_ADDRESS": "IP",
    "CREDIT_CARD": "ACCOUNT",
    "IBAN_CODE": "ACCOUNT",
    "HEALTH_PLAN_NUMBER": "PLAN-ID",
    "ACCOUNT_NUMBER": "ACCOUNT",
    "LICENSE_NUMBER": "LICENSE",
    "VEHICLE_ID": "VEHICLE",
    "DEVICE_ID": "DEVICE",
    "ID_NUMBER": "ID",
}


@pytest.mark.parametrize(("entity", "original", "surrogate_shape"), FAMILIES, ids=FAMILY_IDS)
@pytest.mark.parametrize("action", list(Action), ids=ACTIONS)
def test_action_per_entity_family(
    entity: str, original: str, surrogate_shape: str, action: Action
) -> None:
    generator = SurrogateGenerator(KEY)
    patient = generator.pseudonym("p1")
    replacement = transform(action, generator, entity, original, patient, {})
    expected = {
        Action.REDACT: re.escape(redaction_tag(entity)),
        Action.SURROGATE: surrogate_shape,
        Action.PSEUDONYM: pseudonym_pattern(PSEUDONYM_LABELS[entity]),
    }[action]
    if entity == "PERSON" and action is Action.PSEUDONYM:
        # One token per word of a name; the title stays.
        token = pseudonym_pattern("NAME")
        expected = rf"Dr\. {token} {token}"
    assert re.fullmatch(expected, replacement.text), replacement.text
    assert replacement.text != original
    assert original not in replacement.text
    # Names must not survive even in part. "MRN", the URL's words and an address's street type
    # and unit label are labels, not PHI.
    labels = {"mrn", "www", "org", "net", "example", "clinic", "apt"}
    for word in re.findall(r"[A-Za-z]{3,}", original):
        if word.lower() not in labels:
            assert word not in replacement.text


def test_pseudonym_labels_cover_every_type() -> None:
    assert set(PSEUDONYM_LABELS) == set(ENTITY_TYPES)


@pytest.mark.parametrize("action", list(Action), ids=ACTIONS)
def test_action_on_detected_note(
    deidentifier: Deidentifier, keys: KeyStore, action: Action
) -> None:
    deid = with_policy(deidentifier, keys, Policy(default=action))
    result = deid.deidentify(NOTE, "p9")
    for value in NOTE_PHI:
        assert value not in result.text
    if action is Action.REDACT:
        assert result.text.count("[NAME]") >= 2
        assert "[DATE]" in result.text
        assert "[PHONE]" in result.text
        assert result.mapping == {}
    if action is Action.PSEUDONYM:
        assert len(re.findall(pseudonym_pattern("NAME"), result.text)) >= 2
        assert re.search(pseudonym_pattern("DATE"), result.text)
        assert re.search(pseudonym_pattern("PHONE"), result.text)
    if action is not Action.REDACT:
        assert reidentify(result.text, result.mapping) == NOTE


def test_mixed_policy_applies_per_type(deidentifier: Deidentifier, keys: KeyStore) -> None:
    policy = Policy(entities={"PHONE_NUMBER": "redact", "DATE": "pseudonym"})
    result = with_policy(deidentifier, keys, policy).deidentify(NOTE, "p9")
    assert "[PHONE]" in result.text
    assert re.search(pseudonym_pattern("DATE"), result.text)
    assert "[NAME" not in result.text
    assert result.text.startswith("Dr. ")
    for value in NOTE_PHI:
        assert value not in result.text


# ZIP codes: Safe Harbor keeps three digits, or 000 for the listed sparsely populated areas.


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("02115", "021XX"),
        ("02115-1234", "021XX"),
        (" 94110 ", "941XX"),
        ("03601", "000XX"),
        ("89301-0001", "000XX"),
    ],
    ids=["five-digit", "zip-plus-four", "padded", "restricted", "restricted-plus-four"],
)
def test_safe_harbor_zip(value: str, expected: str) -> None:
    assert safe_harbor_zip(value) == expected


@pytest.mark.parametrize("value", ["2115", "021155", "02115-12", "O2115", "Boston"])
def test_zip_look_alikes_are_not_zip_codes(value: str) -> None:
    assert not is_zip_code(value)
    with pytest.raises(ValueError, match="not a five-digit"):
        safe_harbor_zip(value)


def test_restricted_prefixes_all_become_000() -> None:
    assert len(RESTRICTED_PREFIXES) == 17
    assert {"036", "059", "102", "556", "692", "790", "878", "893"} <= RESTRICTED_PREFIXES
    for prefix in RESTRICTED_PREFIXES:
        assert safe_harbor_zip(prefix + "42") == "000XX"


def test_zip_location_span_end_to_end(deidentifier: Deidentifier, keys: KeyStore) -> None:
    """A recognizer that reports ZIP codes as LOCATION gets the Safe Harbor ZIP back."""
    registry = RecognizerRegistry(supported_languages=["en"])
    zip_pattern = Pattern("zip", r"\b\d{5}(?:-\d{4})?\b", 0.9)
    registry.add_recognizer(PatternRecognizer(supported_entity="LOCATION", patterns=[zip_pattern]))
    analyzer = AnalyzerEngine(
        registry=registry, nlp_engine=deidentifier.analyzer.nlp_engine, supported_languages=["en"]
    )
    deid = Deidentifier(analyzer, keys)
    result = deid.deidentify("Home ZIP 02115, previously 03601-2222.", "p1")
    assert result.text == "Home ZIP 021XX, previously 000XX."
    assert result.mapping == {}


# No action ever falls back to the original value.


def test_name_pool_exhaustion_redacts(monkeypatch: pytest.MonkeyPatch) -> None:
    # A 40-name pool runs out after 40 names; the full pool would take thousands.
    pool = NAME_POOL[:40]
    monkeypatch.setattr(surrogates_module, "NAME_POOL", pool)
    generator = SurrogateGenerator(KEY)
    patient = generator.pseudonym("p1")
    taken: dict[str, str] = {}
    letters = "abcdefg"
    originals = [f"Xylo{a}{b}" for a in letters for b in letters]
    results = [generator.surrogate("PERSON", name, patient, taken) for name in originals]
    surrogates = [r for r in results if r != "[NAME]"]
    assert len(surrogates) == len(pool)
    assert len(set(surrogates)) == len(pool)
    assert results.count("[NAME]") == len(originals) - len(pool)
    for original, result in zip(originals, results, strict=True):
        assert original not in result


@pytest.mark.parametrize("action", list(Action), ids=ACTIONS)
def test_exhausted_pool_never_keeps_name(action: Action) -> None:
    generator = SurrogateGenerator(KEY)
    patient = generator.pseudonym("p1")
    taken = {name.lower(): f"other-{name}" for name in NAME_POOL}
    replacement = transform(action, generator, "PERSON", "Mr. Ottilie Avery", patient, taken)
    assert "Ottilie" not in replacement.text
    assert "Avery" not in replacement.text
    if action is not Action.PSEUDONYM:
        assert replacement.text == "[NAME]"


def test_initials_never_kept() -> None:
    generator = SurrogateGenerator(KEY)
    for index in range(20):
        patient = generator.pseudonym(f"p{index}")
        for letter in string.ascii_uppercase:
            replaced = generator.surrogate("PERSON", f"{letter}. Quackenbush", patient)
            assert replaced[0] != letter, (letter, index)


def test_surrogate_equal_to_original_is_redacted() -> None:
    generator = SurrogateGenerator(KEY)
    original = CITY_POOL[0]
    patients = (generator.pseudonym(f"p{index}") for index in range(500))
    patient = next(p for p in patients if generator._location(original, p) == original)
    assert generator.surrogate("LOCATION", original, patient) == "[LOCATION]"


@pytest.mark.parametrize("action", list(Action), ids=ACTIONS)
def test_unparseable_date_never_kept(action: Action) -> None:
    generator = SurrogateGenerator(KEY)
    replacement = transform(action, generator, "DATE", "the Ides of March", "p", {})
    assert "Ides" not in replacement.text
    if action is not Action.PSEUDONYM:
        assert replacement.text == "[DATE]"
        assert not replacement.reversible


def test_long_digit_identifier_fully_replaced() -> None:
    generator = SurrogateGenerator(KEY)
    original = "MRN " + "7" * 200
    replaced = generator.surrogate("MEDICAL_RECORD_NUMBER", original, "p")
    assert len(replaced) == len(original)
    assert replaced != original


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    entity=st.sampled_from(ENTITY_TYPES),
    action=st.sampled_from(list(Action)),
    original=st.text(string.ascii_letters + string.digits + " .-/()@", min_size=1, max_size=30),
)
def test_no_action_returns_original(entity: str, action: Action, original: str) -> None:
    assume(original.strip())
    assume(not (entity == "AGE" and original.isdigit() and int(original) <= 89))
    assume(original.strip().lower() not in {tag.lower() for tag in REDACTION_TAGS.values()})
    generator = SurrogateGenerator(KEY)
    replacement = transform(action, generator, entity, original, "patient", {})
    assert replacement.text.strip().lower() != original.strip().lower()


# Pseudonyms are keyed, stable per patient across notes, and normalized.


def test_pseudonym_consistent_across_notes(deidentifier: Deidentifier, keys: KeyStore) -> None:
    deid = with_policy(deidentifier, keys, Policy(default=Action.PSEUDONYM))
    first = deid.deidentify("Seen by Dr. Okafor today.", "patient-a")
    second = deid.deidentify("DR. OKAFOR AWARE.", "patient-a")
    other = deid.deidentify("Seen by Dr. Okafor today.", "patient-b")
    token = re.search(pseudonym_pattern("NAME"), first.text)
    assert token is not None
    assert token.group(0) in second.text
    assert token.group(0) not in other.text
    assert first.mapping == {token.group(0): "Okafor"}


def test_pseudonym_depends_on_key() -> None:
    one, two = SurrogateGenerator(b"a" * 32), SurrogateGenerator(b"b" * 32)
    patient = "0123456789abcdef"
    token = one.pseudonym_token("MEDICAL_RECORD_NUMBER", "MRN 4417283", patient)
    assert token != two.pseudonym_token("MEDICAL_RECORD_NUMBER", "MRN 4417283", patient)
    digest = token[5:-1].lower()
    for plain in ("4417283", "MRN 4417283", patient + "4417283"):
        assert not hashlib.sha256(plain.encode()).hexdigest().startswith(digest)
        assert not hashlib.md5(plain.encode()).hexdigest().startswith(digest)


@pytest.mark.parametrize(
    ("entity", "first", "second"),
    [
        ("PERSON", "Mr. Quackenbush", "QUACKENBUSH"),
        ("MEDICAL_RECORD_NUMBER", "MRN 4417283", "mrn: 4417283"),
        ("PHONE_NUMBER", "(617) 555-0142", "617-555-0142"),
        ("DATE", "March 14th, 2021", "03/14/2021"),
        ("LOCATION", "Cedar  grove", "CEDAR GROVE"),
    ],
    ids=["title-and-case", "mrn-label", "phone-layout", "date-format", "location-spacing"],
)
def test_pseudonym_normalizes_variants(entity: str, first: str, second: str) -> None:
    generator = SurrogateGenerator(KEY)
    assert generator.pseudonym_token(entity, first, "p") == generator.pseudonym_token(
        entity, second, "p"
    )


def test_pseudonym_differs_between_values() -> None:
    generator = SurrogateGenerator(KEY)
    tokens = {generator.pseudonym_token("PERSON", name, "p") for name in NAME_POOL}
    assert len(tokens) == len(NAME_POOL)


# Policy files: loading and validation.


def test_shipped_policy_is_the_default() -> None:
    shipped = Policy.load(SHIPPED_POLICY)
    assert shipped.fingerprint() == Policy().fingerprint()
    assert set(shipped.entities) == set(ENTITY_TYPES)
    assert shipped.describe()["source"] == str(SHIPPED_POLICY)


def test_fingerprint_ignores_order_and_source(tmp_path: Path) -> None:
    one = write_policy(tmp_path / "a.yaml", "entities:\n  PERSON: redact\n  DATE: pseudonym\n")
    two = write_policy(
        tmp_path / "b.yaml", "default: surrogate\nentities: {DATE: pseudonym, PERSON: redact}\n"
    )
    assert Policy.load(one).fingerprint() == Policy.load(two).fingerprint()
    assert Policy.load(one).fingerprint() != Policy().fingerprint()
    assert Policy(default=Action.REDACT).fingerprint() != Policy().fingerprint()


def test_policy_from_code_validates() -> None:
    policy = Policy(entities={"PERSON": "redact"})  # type: ignore[dict-item]
    assert policy.action_for("PERSON") is Action.REDACT
    assert policy.action_for("DATE") is Action.SURROGATE
    with pytest.raises(PolicyError, match="invalid action 'hash'"):
        Policy(default="hash")  # type: ignore[arg-type]
    with pytest.raises(PolicyError, match="unknown entity type"):
        Policy(entities={"NAME": Action.REDACT})


VALID_ENTITY_LIST = re.escape(str(list(ENTITY_TYPES)))
VALID_ACTION_LIST = re.escape("['redact', 'surrogate', 'pseudonym']")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("# only a comment\n", "is empty"),
        ("default: [surrogate\n", "not valid YAML at line 2, column 1"),
        ("- redact\n- surrogate\n", "must be a YAML mapping .* got a list"),
        ("surrogate\n", "must be a YAML mapping .* got a str"),
        ("defualt: redact\n", r"unknown key\(s\) 'defualt'; valid keys: \['default', 'entities'\]"),
        ("entities:\n  PHONE: redact\n", rf"unknown entity type\(s\) 'PHONE'.*{VALID_ENTITY_LIST}"),
        ("entities:\n  PERSON: hash\n", rf"PERSON: invalid action 'hash'.*{VALID_ACTION_LIST}"),
        ("default: delete\n", rf"default: invalid action 'delete'.*{VALID_ACTION_LIST}"),
        ("default: REDACT\n", "invalid action 'REDACT'"),
        ("entities: [PERSON]\n", "entities must map entity types to actions.*got a list"),
        ("entities:\n  PERSON: redact\n  PERSON: surrogate\n", "repeats a key at line 3"),
    ],
    ids=[
        "empty",
        "comment-only",
        "not-yaml",
        "list",
        "scalar",
        "unknown-key",
        "unknown-entity",
        "unknown-action",
        "unknown-default",
        "action-case",
        "entities-not-mapping",
        "duplicate-key",
    ],
)  # fmt: skip
def test_policy_file_errors(tmp_path: Path, content: str, message: str) -> None:
    path = write_policy(tmp_path / "policy.yaml", content)
    with pytest.raises(PolicyError, match=message):
        Policy.load(path)


def test_policy_path_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="is a directory; pass a policy YAML file"):
        Policy.load(tmp_path)
    with pytest.raises(PolicyError, match="policy file not found"):
        Policy.load(tmp_path / "missing.yaml")
    binary = tmp_path / "policy.bin"
    binary.write_bytes(b"\xff\xfe\x00default")
    with pytest.raises(PolicyError, match="not UTF-8 text"):
        Policy.load(binary)


@pytest.mark.parametrize(
    "content",
    [
        "Patient: Ottilie Quackenbush\nMRN: 4417283\n",
        "name: Ottilie Quackenbush\n",
        "entities:\n  PERSON: Ottilie Quackenbush\n",
        "entities:\n  Ottilie Quackenbush: redact\n",
        "Doctor: Hello, Ottilie: Quackenbush 4417283\n",
        "id,text\nn1,Ottilie Quackenbush MRN 4417283\n",
    ],
    ids=["note-as-mapping", "lower-key", "name-as-action", "name-as-entity", "not-yaml", "csv"],
)
def test_policy_errors_never_quote_note_text(tmp_path: Path, content: str) -> None:
    path = write_policy(tmp_path / "notes.yaml", content)
    with pytest.raises(PolicyError) as raised:
        Policy.load(path)
    message = str(raised.value)
    for value in ("Ottilie", "Quackenbush", "4417283"):
        assert value not in message
    assert raised.value.__cause__ is None


def test_config_accepts_policy_path(tmp_path: Path) -> None:
    config_path = tmp_path / "pipeline.yaml"
    config_path.write_text(f"deidentify:\n  policy: {SHIPPED_POLICY}\n", encoding="utf-8")
    assert load_config(config_path).deidentify["policy"] == str(SHIPPED_POLICY)
    config_path.write_text("deidentify:\n  policy: 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"deidentify\.policy must be the path .* got a int"):
        load_config(config_path)


def test_create_rejects_bad_policy_before_loading(tmp_path: Path, keys: KeyStore) -> None:
    path = write_policy(tmp_path / "policy.yaml", "default: hash\n")
    with pytest.raises(PolicyError, match="invalid action"):
        Deidentifier.create(keys, spacy_model="no_such_spacy_model", policy=str(path))


# Corpus runs: policy recorded, resume under another policy rejected, no PHI in logs.


def test_resume_with_changed_policy_rejected(
    tmp_path: Path, deidentifier: Deidentifier, keys: KeyStore
) -> None:
    records = generate_corpus(4, seed=3)
    output = tmp_path / "deid"
    default = with_policy(deidentifier, keys, Policy())
    deidentify_corpus(records[:2], output, default, progress=False)
    stored = json.loads((output / POLICY_STATE_NAME).read_text())
    assert stored["sha256"] == Policy().fingerprint()

    changed = with_policy(deidentifier, keys, Policy(entities={"PHONE_NUMBER": Action.REDACT}))
    with pytest.raises(ResumeError, match="mix the outputs of two policies") as raised:
        deidentify_corpus(records, output, changed, progress=False)
    assert Policy().fingerprint()[:12] in str(raised.value)
    assert len((output / "records.jsonl").read_text().splitlines()) == 2

    # The shipped file spells out the default, so resuming with it is the same policy.
    same = with_policy(deidentifier, keys, Policy.load(SHIPPED_POLICY))
    report = deidentify_corpus(records, output, same, progress=False)
    assert report["processed_this_run"] == 2
    assert report["policy"]["sha256"] == Policy().fingerprint()


def test_resume_without_policy_record_rejected(
    tmp_path: Path, deidentifier: Deidentifier, keys: KeyStore
) -> None:
    output = tmp_path / "deid"
    deid = with_policy(deidentifier, keys, Policy())
    deidentify_corpus(generate_corpus(1, seed=3), output, deid, progress=False)
    (output / POLICY_STATE_NAME).unlink()
    with pytest.raises(ResumeError, match="policy they were written under is unknown"):
        deidentify_corpus(generate_corpus(2, seed=3), output, deid, progress=False)
    (output / POLICY_STATE_NAME).write_text("{not json", encoding="utf-8")
    with pytest.raises(ResumeError, match="not a valid policy record"):
        deidentify_corpus(generate_corpus(2, seed=3), output, deid, progress=False)


@pytest.mark.parametrize("action", list(Action), ids=ACTIONS)
def test_corpus_outputs_and_logs_hold_no_phi(
    tmp_path: Path, deidentifier: Deidentifier, keys: KeyStore, action: Action, caplog
) -> None:  # type: ignore[no-untyped-def]
    records = generate_corpus(3, seed=21)
    output = tmp_path / "deid"
    caplog.set_level(logging.DEBUG)
    deid = with_policy(deidentifier, keys, Policy(default=action))
    deidentify_corpus(records, output, deid, progress=False)
    written = "".join(path.read_text() for path in output.glob("*.json*")) + caplog.text
    outputs = load_deidentified(output)
    for record, result in zip(records, outputs, strict=True):
        for value in record.meta["planted_phi"]:
            assert value not in result.text, f"{record.id}: a planted value survived"
            # A date may appear in another record's output when that patient's shift lands on it.
            if not re.fullmatch(r"\d{2}/\d{2}/\d{4}", value):
                assert value not in written, f"{record.id}: a planted value survived"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_terminal(
    tmp_path: Path, deidentifier: Deidentifier, keys: KeyStore, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    deid = with_policy(deidentifier, keys, Policy())
    records = generate_corpus(1, seed=4)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    deidentify_corpus(records, tmp_path / "tty", deid)
    assert "deidentify" in terminal.getvalue()
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    deidentify_corpus(records, tmp_path / "pipe", deid)
    assert pipe.getvalue() == ""


# The command line, end to end on a generated CSV file.


def write_csv(path: Path, count: int) -> list[list[str]]:
    records = generate_corpus(count, seed=8)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "summary", "patient_id"])
        for record in records:
            writer.writerow([record.id, record.text, record.summary, record.patient_id])
    return [record.meta["planted_phi"] for record in records]


def test_cli_deidentify_csv_with_policy(tmp_path: Path, capsys, caplog) -> None:  # type: ignore[no-untyped-def]
    planted = write_csv(tmp_path / "notes.csv", 3)
    policy = write_policy(
        tmp_path / "policy.yaml",
        "default: surrogate\n"
        "entities:\n  MEDICAL_RECORD_NUMBER: pseudonym\n  PHONE_NUMBER: redact\n",
    )
    output = tmp_path / "out"
    argv = ["deidentify", "--input", str(tmp_path / "notes.csv"), "--output", str(output)]
    caplog.set_level(logging.DEBUG)

    assert main([*argv, "--policy", str(policy)]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["records"] == 3
    assert report["policy"]["sha256"] == Policy.load(policy).fingerprint()
    assert report["policy"]["entities"] == {
        "MEDICAL_RECORD_NUMBER": "pseudonym",
        "PHONE_NUMBER": "redact",
    }
    # stderr is not a terminal here, so no progress bar is drawn.
    assert "rec/s" not in captured.err
    texts = [json.loads(line)["text"] for line in (output / "records.jsonl").open()]
    assert all(re.search(pseudonym_pattern("MRN"), text) for text in texts)
    assert all("[PHONE]" in text for text in texts)
    written = "".join(p.read_text() for p in output.glob("*.json*")) + captured.err + caplog.text
    for values in planted:
        for value in values:
            assert value not in written

    # Resuming the same output under the default policy must fail, not mix outputs.
    caplog.clear()
    assert main(argv) == 2
    assert "mix the outputs of two policies" in caplog.text
    assert len((output / "records.jsonl").read_text().splitlines()) == 3


def test_cli_infers_format_from_extension(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    records = generate_corpus(1, seed=9)
    jsonl = tmp_path / "notes.JSONL"
    jsonl.write_text(json.dumps(records[0].to_json()) + "\n", encoding="utf-8")
    argv = ["deidentify", "--input", str(jsonl), "--output", str(tmp_path / "out")]
    assert main([*argv, "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["records"] == 1

    text_file = tmp_path / "notes.txt"
    text_file.write_text("x", encoding="utf-8")
    argv = ["deidentify", "--input", str(text_file), "--output", str(tmp_path / "out2")]
    with pytest.raises(SystemExit, match=r"cannot infer the format .* extension \.txt"):
        main(argv)


def test_cli_rejects_bad_policy_file(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    write_csv(tmp_path / "notes.csv", 1)
    argv = ["deidentify", "--input", str(tmp_path / "notes.csv"), "--output", str(tmp_path / "o")]
    assert main([*argv, "--policy", str(tmp_path)]) == 2
    assert "is a directory" in caplog.text
    assert not (tmp_path / "o").exists()


def test_name_pseudonyms_agree_between_spellings_and_fields(
    deidentifier: Deidentifier, keys: KeyStore
) -> None:
    # A structured family name and the same name in a note, in any spelling, share one token,
    # as they share one surrogate under the surrogate policy.
    deid = with_policy(deidentifier, keys, Policy(default=Action.PSEUDONYM))
    note = "Jane Roe was seen today. Called ROE, JANE back. Mrs. Roe agrees with the plan."
    result = deid.deidentify(note, "patient-a", known_names=["Jane", "Roe"])
    [family], _ = deid.replace_values("PERSON", ["Roe"], "patient-a", known_names=["Jane", "Roe"])
    assert re.fullmatch(pseudonym_pattern("NAME"), family)
    assert result.text.count(family) == 3
    assert "Roe" not in result.text
    assert "ROE" not in result.text
    assert "Jane" not in result.text
    assert "Mrs." in result.text
    assert result.mapping[family] == "Roe"
    assert reidentify(result.text, result.mapping).lower() == note.lower()


def test_surrogate_pool_avoids_test_names() -> None:
    # Planted-PHI checks look for the generated names in the output, so no surrogate may be one.
    from medsum import synthetic

    planted = {name.lower() for name in set(synthetic.FIRST_NAMES) | set(synthetic.LAST_NAMES)}
    # Substrings too: the checks look for "Grant" anywhere, so "Grantham" must not be drawn.
    inside = [(name, pool) for name in planted for pool in NAME_POOL if name in pool.lower()]
    assert inside == []
    # The example names that tests look for in de-identified output.
    examples = {
        "hartwell", "vance", "okafor", "lindqvist", "mbeki", "brixworth", "elmford", "bartholomew",
        "lund", "bertrand", "ruiz", "tobias",
    }  # fmt: skip
    assert not examples & {name.lower() for name in NAME_POOL}


def test_surrogate_pool_has_no_places_or_drugs() -> None:
    # Re-identification maps a surrogate back wherever it is written, so "Monaco" as a
    # surrogate would turn the country in a summary into a patient's name.
    pool = {name.lower() for name in NAME_POOL}
    assert not pool & region_names()
    assert not pool & {town.lower() for town in CITY_POOL}
    assert not pool & drug_names()


@pytest.mark.parametrize(
    ("address", "shape"),
    [
        ("4410 OLD MILL RD", r"\d{4} [A-Z]+ [A-Z]+ RD"),
        ("P.O. Box 255", r"P\.O\. Box \d{3}"),
        ("PSC 6477, Box 2981", r"PSC \d{4}, Box \d{4}"),
        ("Elmfordstrasse 12", r"[A-Z][a-z]+strasse \d\d"),
        ("Via Elmford Brixa 71", r"Via [A-Z][a-z]+ [A-Z][a-z]+ \d\d"),
        ("12 Grove Street", r"\d\d [A-Z][a-z]+ Street"),
        ("27 N Alder St.", r"\d\d N [A-Z][a-z]+ St\."),
        ("221B Hartwell Street", r"\d{3}[A-Z] [A-Z][a-z]+ Street"),
    ],
)
def test_address_surrogate_keeps_layout(address: str, shape: str) -> None:
    generator = SurrogateGenerator(b"k" * 32)
    surrogate = generator.surrogate("LOCATION", address, "patient-1")
    assert re.fullmatch(shape, surrogate), surrogate
    # The same patient gets the same address back, another patient another one.
    assert generator.surrogate("LOCATION", address, "patient-1") == surrogate
    assert generator.surrogate("LOCATION", address, "patient-2") != surrogate
    address_labels = {"RD", "P", "O", "Box", "PSC", "Via", "Street", "N", "St"}
    for word in re.findall(r"[^\W_]+", address):
        if word not in address_labels:
            assert not re.search(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])", surrogate), word


def test_street_pool_is_apart_from_other_pools() -> None:
    streets = {name.lower() for name in STREET_POOL}
    assert not streets & {name.lower() for name in NAME_POOL}
    assert not streets & {town.lower() for town in CITY_POOL}
    assert not streets & region_names()
    assert not streets & drug_names()


def test_address_numbers_change_and_stay_per_patient() -> None:
    generator = SurrogateGenerator(b"k" * 32)
    # A one-digit house number never stays, whatever the patient.
    for index in range(200):
        surrogate = generator.surrogate("LOCATION", "7 Alder St.", f"patient-{index}")
        assert not surrogate.startswith("7 ")
    # A unit code never stays either.
    for index in range(300):
        surrogate = generator.surrogate("LOCATION", "Apt 4B", f"patient-{index}")
        assert surrogate != "Apt 4B"
        assert surrogate.startswith("Apt ")
    # The spelling of the street type does not change one patient's house number.
    short = generator.surrogate("LOCATION", "27 Alder St.", "patient-1")
    long = generator.surrogate("LOCATION", "27 Alder Street", "patient-1")
    assert short.split()[:2] == long.split()[:2]
