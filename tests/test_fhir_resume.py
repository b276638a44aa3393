"""Resuming an interrupted FHIR run gives the output of an uninterrupted one."""

from __future__ import annotations

import base64
import json
import logging
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from deidentify import Deidentifier, Vault
from deidentify.fhir import FhirDeidentifier, FhirInputError, deidentify_fhir_file
from deidentify.fhir_progress import PROGRESS_FILE
from deidentify.policy import Action, Policy
from deidentify.resume import KEY_STATE_NAME, POLICY_STATE_NAME, ResumeError
from medsum.cli import main
from medsum.keys import KeyStore

TODAY = date(2024, 1, 15)
# Made-up identifiers planted in the generated input; none may reach any output or message.
PATIENTS = [
    ("pat-1", "Odalys", "Fernwhistle", "(617) 555-0142", "1961-07-04"),
    ("pat-2", "Bertrand", "Quillfeather", "(508) 555-0177", "1930-02-11"),
    ("pat-3", "Marisol", "Dunkerley", "(413) 555-0108", "1975-09-30"),
]
PLANTED = [value for patient in PATIENTS for value in patient[1:4]] + ["555-0142", "03/14/2021"]
INTERRUPT_AFTER = 2


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def patient(index: int) -> dict[str, Any]:
    key, given, family, phone, birth = PATIENTS[index]
    return {
        "resourceType": "Patient",
        "id": key,
        "name": [{"family": family, "given": [given]}],
        "telecom": [{"system": "phone", "value": phone}],
        "birthDate": birth,
    }


def document(index: int, content_type: str = "text/plain") -> dict[str, Any]:
    key, given, family, phone, _ = PATIENTS[index]
    note = f"{given} {family} was seen on 03/14/2021 for a cough. Call {phone} with results."
    return {
        "resourceType": "DocumentReference",
        "id": f"doc-{index + 1}",
        "status": "current",
        "subject": {"reference": f"Patient/{key}"},
        "date": "2021-03-14T10:30:00Z",
        "description": f"Clinic note for {family}",
        "content": [{"attachment": {"contentType": content_type, "data": b64(note)}}],
    }


def bundle(index: int) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "id": "bundle-1",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:00000001-0000-4000-8000-000000000000",
                "resource": patient(index),
            },
            {
                "fullUrl": "urn:uuid:00000002-0000-4000-8000-000000000000",
                "resource": document(index),
            },
        ],
    }


def items() -> list[dict[str, Any]]:
    """Five input items: two patients with a note each, in an order that spreads them out."""
    return [patient(0), document(1), document(0), patient(1), bundle(2)]


def write_ndjson(path: Path, resources: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    return path


def interrupt_after(monkeypatch, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Make FhirDeidentifier.deidentify_item raise after `count` items; returns the call log."""
    original = FhirDeidentifier.deidentify_item
    calls: list[str] = []

    def failing(self, where, model):  # type: ignore[no-untyped-def]
        if len(calls) == count:
            raise RuntimeError("simulated interruption")
        calls.append(where)
        return original(self, where, model)

    monkeypatch.setattr(FhirDeidentifier, "deidentify_item", failing)
    return calls


def count_items(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    return interrupt_after(monkeypatch, 10**6)


def vault_mappings(output: Path, keys: KeyStore) -> dict[str, dict[str, str]]:
    vault = Vault(output / "vault.sqlite", keys)
    try:
        return {record: vault.get(record) for record in sorted(vault.records())}
    finally:
        vault.close()


def assert_same_output(resumed: Path, reference: Path, keys: KeyStore) -> None:
    for name in ("resources.ndjson", "trace.jsonl", PROGRESS_FILE, POLICY_STATE_NAME,
                 KEY_STATE_NAME):  # fmt: skip
        assert (resumed / name).read_bytes() == (reference / name).read_bytes(), name
    assert vault_mappings(resumed, keys) == vault_mappings(reference, keys)
    ignored = {"duration_s", "processed_this_run"}
    resumed_report = json.loads((resumed / "report.json").read_text())
    reference_report = json.loads((reference / "report.json").read_text())
    for key in reference_report.keys() - ignored:
        assert resumed_report[key] == reference_report[key], key


@pytest.fixture()
def keys(tmp_path: Path) -> KeyStore:
    return KeyStore.open(tmp_path / "keys")


@pytest.fixture()
def deid(deidentifier: Deidentifier, keys: KeyStore) -> Deidentifier:
    return Deidentifier(deidentifier.analyzer, keys)


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    return write_ndjson(tmp_path / "input.ndjson", items())


@pytest.fixture()
def reference(tmp_path: Path, source: Path, deid: Deidentifier) -> Path:
    """The output of an uninterrupted run."""
    output = tmp_path / "reference"
    report = deidentify_fhir_file(source, output, deid, today=TODAY)
    assert report["processed_this_run"] == len(items())
    return output


def interrupted_run(source: Path, output: Path, deid: Deidentifier, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with monkeypatch.context() as patch:
        interrupt_after(patch, INTERRUPT_AFTER)
        with pytest.raises(RuntimeError, match="simulated interruption"):
            deidentify_fhir_file(source, output, deid, today=TODAY)


def test_interrupted_run_resumes_identically(
    tmp_path: Path, source: Path, deid: Deidentifier, keys: KeyStore, reference: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    output = tmp_path / "resumed"
    interrupted_run(source, output, deid, monkeypatch)
    assert len((output / "resources.ndjson").read_text().splitlines()) == INTERRUPT_AFTER
    assert len((output / PROGRESS_FILE).read_text().splitlines()) == INTERRUPT_AFTER

    calls = count_items(monkeypatch)
    # Without `today`, the resumed run keeps the interrupted run's reference day.
    report = deidentify_fhir_file(source, output, deid)

    assert report["processed_this_run"] == len(items()) - INTERRUPT_AFTER
    assert len(calls) == len(items()) - INTERRUPT_AFTER
    assert calls[0].endswith(f":{INTERRUPT_AFTER + 1}")
    assert report["resource_counts"] == {"Bundle": 1, "DocumentReference": 3, "Patient": 3}
    assert_same_output(output, reference, keys)


def test_resume_drops_uncommitted_output(
    tmp_path: Path, source: Path, deid: Deidentifier, keys: KeyStore, reference: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    output = tmp_path / "resumed"
    interrupted_run(source, output, deid, monkeypatch)
    # A run killed while writing item 3: its trace lines and resource line are on disk, its
    # progress line is torn.
    next_resource = (reference / "resources.ndjson").read_text().splitlines()[INTERRUPT_AFTER]
    next_traces = [
        line
        for line in (reference / "trace.jsonl").read_text().splitlines()
        if json.loads(line)["item"] == INTERRUPT_AFTER
    ]
    assert next_traces
    with (output / "trace.jsonl").open("a") as handle:
        handle.write("".join(line + "\n" for line in next_traces))
    with (output / "resources.ndjson").open("a") as handle:
        handle.write(next_resource + "\n")
    with (output / PROGRESS_FILE).open("a") as handle:
        handle.write('{"item": 2, "inp')

    report = deidentify_fhir_file(source, output, deid)

    assert report["processed_this_run"] == len(items()) - INTERRUPT_AFTER
    assert_same_output(output, reference, keys)


def test_resume_rejects_changed_input(
    tmp_path: Path, source: Path, deid: Deidentifier, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    output = tmp_path / "resumed"
    interrupted_run(source, output, deid, monkeypatch)
    before = (output / "resources.ndjson").read_bytes()

    changed = items()
    changed[1]["description"] = "Clinic note for Quillfeather, amended"
    write_ndjson(source, changed)
    with pytest.raises(ResumeError) as raised:
        deidentify_fhir_file(source, output, deid)
    assert "input.ndjson:2 differs" in str(raised.value)
    assert "Quillfeather" not in str(raised.value)

    write_ndjson(source, items()[:1])
    with pytest.raises(ResumeError, match="this input has only 1"):
        deidentify_fhir_file(source, output, deid)
    assert (output / "resources.ndjson").read_bytes() == before


def test_resume_rejects_other_key_policy_or_day(
    tmp_path: Path, source: Path, deid: Deidentifier, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    output = tmp_path / "resumed"
    interrupted_run(source, output, deid, monkeypatch)
    before = (output / "resources.ndjson").read_bytes()

    other_keys = KeyStore.open(tmp_path / "other-keys")
    with pytest.raises(ResumeError, match="HMAC key of fingerprint"):
        deidentify_fhir_file(source, output, Deidentifier(deid.analyzer, other_keys))
    redact = Policy(default=Action.REDACT)
    with pytest.raises(ResumeError, match="mix the outputs of two policies"):
        deidentify_fhir_file(source, output, Deidentifier(deid.analyzer, deid.keys, policy=redact))
    with pytest.raises(ResumeError, match="measured ages on 2024-01-15"):
        deidentify_fhir_file(source, output, deid, today=date(2024, 6, 1))
    assert (output / "resources.ndjson").read_bytes() == before


def test_fixed_item_resumes_after_invalid_one(
    tmp_path: Path, deid: Deidentifier, keys: KeyStore
) -> None:
    """An item that fails during de-identification stops the run after the items before it."""
    bad = items()
    bad[2] = document(0, content_type="application/pdf")
    source = write_ndjson(tmp_path / "input.ndjson", bad)
    output = tmp_path / "resumed"
    with pytest.raises(FhirInputError, match=r"input\.ndjson:3"):
        deidentify_fhir_file(source, output, deid, today=TODAY)
    assert len((output / PROGRESS_FILE).read_text().splitlines()) == 2

    write_ndjson(source, items())
    report = deidentify_fhir_file(source, output, deid, today=TODAY)
    reference = deidentify_fhir_file(source, tmp_path / "reference", deid, today=TODAY)

    assert report["processed_this_run"] == len(items()) - 2
    assert reference["processed_this_run"] == len(items())
    assert_same_output(output, tmp_path / "reference", keys)


def test_resume_state_and_logs_hold_no_phi(
    tmp_path: Path, source: Path, deid: Deidentifier, monkeypatch, caplog
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    output = tmp_path / "resumed"
    interrupted_run(source, output, deid, monkeypatch)
    deidentify_fhir_file(source, output, deid)

    state = "".join(path.read_text() for path in output.glob("*.json*"))
    hmac_key = deid.keys.hmac_key
    for value in PLANTED:
        assert value not in state, value
        assert value not in caplog.text, value
    for form in (hmac_key.hex(), repr(hmac_key)):
        assert form not in state
    progress = [json.loads(line) for line in (output / PROGRESS_FILE).read_text().splitlines()]
    assert [entry["item"] for entry in progress] == list(range(len(items())))
    assert {entry["reference_day"] for entry in progress} == {TODAY.isoformat()}


def test_cli_resumes_fhir_run(
    tmp_path: Path, source: Path, deid: Deidentifier, keys: KeyStore, reference: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    output = tmp_path / "resumed"
    interrupted_run(source, output, deid, monkeypatch)
    argv = ["deidentify", "--format", "fhir", "--input", str(source), "--output", str(output)]

    def no_analyzer(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the analyzer was built before the resume checks")

    monkeypatch.setattr(Deidentifier, "create", classmethod(no_analyzer))
    monkeypatch.setenv("MEDSUM_KEY_DIR", str(tmp_path / "other-keys"))
    assert main(argv) == 2

    monkeypatch.setattr(Deidentifier, "create", classmethod(lambda cls, *a, **k: deid))
    monkeypatch.setenv("MEDSUM_KEY_DIR", str(keys.directory))
    assert main(argv) == 0
    assert_same_output(output, reference, keys)


def test_resume_without_name_register_is_rejected(
    tmp_path: Path, source: Path, deid: Deidentifier, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    output = tmp_path / "resumed"
    interrupted_run(source, output, deid, monkeypatch)
    (output / "name-registry.sqlite").unlink()
    with pytest.raises(ResumeError, match="is missing"):
        deidentify_fhir_file(source, output, deid)
