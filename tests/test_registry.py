"""The name register: one surrogate per name of a patient, whichever names share a text."""

from __future__ import annotations

import itertools
import sqlite3
import string
from pathlib import Path

import pytest

from deidentify.corpus import deidentify_corpus
from deidentify.registry import NAME_REGISTRY_NAME, NameRegistry, RegistryError
from deidentify.resume import ResumeError
from deidentify.surrogates import NAME_POOL, SurrogateGenerator
from medsum.records import Record

KEY = b"register-test-key-0123456789abcd"
PATIENT = "patient-register"


def colliding_names(generator: SurrogateGenerator) -> tuple[str, str]:
    """Two invented name tokens whose first surrogate draw for PATIENT is the same."""
    seen: dict[str, str] = {}
    for letters in itertools.product(string.ascii_lowercase, repeat=3):
        token = "Brix" + "".join(letters)
        first = generator._pick(NAME_POOL, "name", PATIENT, token.lower())
        if first in seen:
            return seen[first], token
        seen[first] = token
    raise AssertionError("no two tokens share a first draw")


def test_without_register_a_name_changes_surrogate(tmp_path: Path) -> None:
    generator = SurrogateGenerator(KEY)
    first, second = colliding_names(generator)
    both: dict[str, str] = {}
    generator.name_token(first, PATIENT, both)
    shared_text = generator.name_token(second, PATIENT, both)
    alone = generator.name_token(second, PATIENT, {})
    # The premise of the register: the second name's surrogate depends on the first's presence.
    assert shared_text != alone


def test_register_keeps_one_surrogate_per_name(tmp_path: Path) -> None:
    registry = NameRegistry(tmp_path / NAME_REGISTRY_NAME)
    generator = SurrogateGenerator(KEY, registry=registry)
    first, second = colliding_names(generator)
    both: dict[str, str] = {}
    first_surrogate = generator.name_token(first, PATIENT, both)
    shared_text = generator.name_token(second, PATIENT, both)
    alone = generator.name_token(second, PATIENT, {})
    first_alone = generator.name_token(first, PATIENT, {})
    assert shared_text == alone
    assert first_surrogate == first_alone
    assert first_surrogate != shared_text
    # A new process (or a resumed run) reads the same assignments from the file.
    reopened = SurrogateGenerator(KEY, registry=NameRegistry(tmp_path / NAME_REGISTRY_NAME))
    assert reopened.name_token(second, PATIENT, {}) == alone


def test_claim_of_taken_surrogate_rejected(tmp_path: Path) -> None:
    registry = NameRegistry(tmp_path / NAME_REGISTRY_NAME)
    assert registry.claim("p", "digest-a", "Okafor") == "Okafor"
    # The same name claimed again keeps its surrogate, and another name cannot take it.
    assert registry.claim("p", "digest-a", "Vance") == "Okafor"
    assert registry.claim("p", "digest-b", "Okafor") is None
    assert registry.is_claimed("p", "Okafor")
    # Another patient may have the same surrogate.
    assert registry.claim("q", "digest-b", "Okafor") == "Okafor"


def test_corpus_register_contains_no_name(tmp_path: Path, deidentifier) -> None:  # type: ignore[no-untyped-def]
    text = "Seen by Dr. Brixworth with Dr. Elmford. Dr. Brixworth called the family."
    records = [
        Record(id="r1", text=text, patient_id="patient-1"),
        Record(id="r2", text="Dr. Elmford reviewed the plan.", patient_id="patient-1"),
    ]
    output = tmp_path / "deid"
    deidentify_corpus(records, output, deidentifier, progress=False)
    stored = (output / NAME_REGISTRY_NAME).read_bytes()
    for word in (b"Brixworth", b"Elmford", b"brixworth", b"elmford", b"patient-1"):
        assert word not in stored
    # The session's de-identifier gets its previous (absent) register back.
    assert deidentifier.surrogates.registry is None


def test_edited_register_row_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / NAME_REGISTRY_NAME
    generator = SurrogateGenerator(KEY, registry=NameRegistry(path))
    generator.name_token("Brixworth", PATIENT, {})
    # Someone writes the original name into the row as its own surrogate.
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE names SET surrogate = 'Brixworth'")
    with pytest.raises(RegistryError, match="restore the file") as raised:
        generator.name_token("Brixworth", PATIENT, {})
    assert "Brixworth" not in str(raised.value)


def test_unreadable_register_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / NAME_REGISTRY_NAME
    path.write_bytes(b"this is no database file" * 100)
    with pytest.raises(RegistryError, match=r"name-registry\.sqlite"):
        NameRegistry(path)


def test_texts_without_patient_skip_the_register(tmp_path: Path) -> None:
    registry = NameRegistry(tmp_path / NAME_REGISTRY_NAME)
    generator = SurrogateGenerator(KEY, registry=registry)
    no_patient = generator.pseudonym("")
    assert generator.name_token("Brixworth", no_patient, {}) is not None
    assert not registry.is_claimed(no_patient, generator.name_token("Brixworth", no_patient, {}))


def test_resume_without_register_is_rejected(tmp_path: Path, deidentifier) -> None:  # type: ignore[no-untyped-def]
    records = [
        Record(id="r1", text="Seen by Dr. Brixworth.", patient_id="patient-1"),
        Record(id="r2", text="Dr. Elmford called.", patient_id="patient-1"),
    ]
    output = tmp_path / "deid"
    deidentify_corpus(records[:1], output, deidentifier, progress=False)
    (output / NAME_REGISTRY_NAME).unlink()
    with pytest.raises(ResumeError, match="is missing"):
        deidentify_corpus(records, output, deidentifier, progress=False)
