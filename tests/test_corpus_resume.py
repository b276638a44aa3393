"""Resuming a corpus run: the HMAC key fingerprint is recorded and compared, key rotation works."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest

from deidentify import Deidentifier, Vault
from deidentify.corpus import deidentify_corpus
from deidentify.policy import Policy
from deidentify.resume import KEY_STATE_NAME, ResumeError, check_resume_keys
from deidentify.surrogates import pool_fingerprint
from medsum.cli import main
from medsum.config import PipelineConfig
from medsum.keys import KeyStore
from medsum.records import Record
from medsum.synthetic import generate_corpus


def with_keys(deidentifier: Deidentifier, keys: KeyStore) -> Deidentifier:
    """A de-identifier that shares the session's analyzer, with its own keys."""
    return Deidentifier(deidentifier.analyzer, keys, policy=Policy())


def key_texts(keys: KeyStore) -> list[str]:
    """Every form in which key material could leak into a message or file."""
    material = [keys.hmac_key, keys.read(keys.current_id)]
    return [form for key in material for form in (key.hex(), key.hex().upper(), repr(key))]


def planted(records: list[Record]) -> list[str]:
    return [value for record in records for value in record.meta["planted_phi"]]


@pytest.fixture()
def keys_a(tmp_path: Path) -> KeyStore:
    return KeyStore.open(tmp_path / "keys-a")


@pytest.fixture()
def keys_b(tmp_path: Path) -> KeyStore:
    return KeyStore.open(tmp_path / "keys-b")


def test_key_state_recorded_without_key(
    tmp_path: Path, deidentifier: Deidentifier, keys_a: KeyStore
) -> None:
    output = tmp_path / "deid"
    deidentify_corpus(generate_corpus(1, seed=5), output, with_keys(deidentifier, keys_a))
    text = (output / KEY_STATE_NAME).read_text(encoding="utf-8")
    state = json.loads(text)

    assert state["hmac_key_fingerprint"] == keys_a.fingerprint
    assert len(state["hmac_key_fingerprint"]) == 16
    assert state["key_directory"] == str(keys_a.directory)
    for form in key_texts(keys_a):
        assert form not in text


def test_resume_with_other_key_rejected(
    tmp_path: Path, deidentifier: Deidentifier, keys_a: KeyStore, keys_b: KeyStore, caplog
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    records = generate_corpus(4, seed=6)
    output = tmp_path / "deid"
    deidentify_corpus(records[:2], output, with_keys(deidentifier, keys_a), progress=False)
    before = (output / "records.jsonl").read_bytes()

    with pytest.raises(ResumeError) as raised:
        deidentify_corpus(records, output, with_keys(deidentifier, keys_b), progress=False)
    message = str(raised.value)

    assert keys_a.fingerprint in message
    assert keys_b.fingerprint in message
    assert str(keys_a.directory) in message
    assert "MEDSUM_KEY_DIR" in message
    assert "new output directory" in message
    assert (output / "records.jsonl").read_bytes() == before
    for form in key_texts(keys_a) + key_texts(keys_b):
        assert form not in message
        assert form not in caplog.text
    for value in planted(records):
        assert value not in message

    # The original key resumes where the run stopped.
    report = deidentify_corpus(records, output, with_keys(deidentifier, keys_a), progress=False)
    assert report["processed_this_run"] == 2


def test_key_check_needs_no_vault(
    tmp_path: Path, deidentifier: Deidentifier, keys_a: KeyStore, keys_b: KeyStore
) -> None:
    output = tmp_path / "deid"
    deidentify_corpus(generate_corpus(1, seed=7), output, with_keys(deidentifier, keys_a))
    # A vault moved elsewhere for safekeeping must not disable the check.
    (output / "vault.sqlite").unlink()

    with pytest.raises(ResumeError, match="fingerprint"):
        check_resume_keys(output, keys_b)
    assert not (output / "vault.sqlite").exists()


def test_run_without_key_state_uses_vault(
    tmp_path: Path, deidentifier: Deidentifier, keys_a: KeyStore, keys_b: KeyStore
) -> None:
    """An output directory written before key fingerprints were recorded."""
    records = generate_corpus(2, seed=8)
    output = tmp_path / "deid"
    deidentify_corpus(records[:1], output, with_keys(deidentifier, keys_a))
    (output / KEY_STATE_NAME).unlink()

    with pytest.raises(ResumeError, match=keys_a.fingerprint):
        deidentify_corpus(records, output, with_keys(deidentifier, keys_b))
    report = deidentify_corpus(records, output, with_keys(deidentifier, keys_a))
    assert report["processed_this_run"] == 1
    assert (output / KEY_STATE_NAME).exists()


def test_unknown_or_invalid_key_state_rejected(
    tmp_path: Path, deidentifier: Deidentifier, keys_a: KeyStore
) -> None:
    output = tmp_path / "deid"
    deidentify_corpus(generate_corpus(1, seed=9), output, with_keys(deidentifier, keys_a))
    (output / KEY_STATE_NAME).write_text("{not json", encoding="utf-8")
    with pytest.raises(ResumeError, match="not a valid key fingerprint record"):
        check_resume_keys(output, keys_a)

    (output / KEY_STATE_NAME).unlink()
    (output / "vault.sqlite").unlink()
    with pytest.raises(ResumeError, match="HMAC key they were written under is unknown"):
        check_resume_keys(output, keys_a)


def test_resume_under_other_surrogate_pools_rejected(
    tmp_path: Path, deidentifier: Deidentifier, keys_a: KeyStore
) -> None:
    output = tmp_path / "deid"
    deidentify_corpus(generate_corpus(1, seed=12), output, with_keys(deidentifier, keys_a))
    state_path = output / KEY_STATE_NAME
    state = json.loads(state_path.read_text(encoding="utf-8"))
    assert state["surrogate_pools"] == pool_fingerprint()

    state["surrogate_pools"] = "0" * 16
    state_path.write_text(json.dumps(state), encoding="utf-8")
    with pytest.raises(ResumeError, match=r"surrogate pools of fingerprint 0{16}"):
        check_resume_keys(output, keys_a)

    # A state from before pools were recorded is not checked.
    del state["surrogate_pools"]
    state_path.write_text(json.dumps(state), encoding="utf-8")
    check_resume_keys(output, keys_a)


@pytest.mark.parametrize(
    "tampered",
    [
        {"surrogate_pools": None},
        {"surrogate_pools": "Pt Okafor seen today"},
        {"hmac_key_fingerprint": "Pt Okafor seen today"},
        {"key_directory": ["Okafor"]},
    ],
    ids=["null-pools", "text-as-pools", "text-as-key", "list-as-directory"],
)
def test_tampered_key_state_rejected_without_echo(
    tmp_path: Path, deidentifier: Deidentifier, keys_a: KeyStore, tampered: dict
) -> None:
    output = tmp_path / "deid"
    deidentify_corpus(generate_corpus(1, seed=13), output, with_keys(deidentifier, keys_a))
    state_path = output / KEY_STATE_NAME
    state = json.loads(state_path.read_text(encoding="utf-8"))
    state.update(tampered)
    state_path.write_text(json.dumps(state), encoding="utf-8")
    with pytest.raises(ResumeError, match="not a valid key fingerprint record") as raised:
        check_resume_keys(output, keys_a)
    assert "Okafor" not in str(raised.value)


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe not utf-8", b"[" * 100_000, None],
    ids=["invalid-utf8", "deeply-nested", "directory"],
)
def test_unreadable_key_state_rejected(
    tmp_path: Path, deidentifier: Deidentifier, keys_a: KeyStore, content: bytes | None
) -> None:
    output = tmp_path / "deid"
    deidentify_corpus(generate_corpus(1, seed=14), output, with_keys(deidentifier, keys_a))
    state_path = output / KEY_STATE_NAME
    state_path.unlink()
    if content is None:
        state_path.mkdir()
    else:
        state_path.write_bytes(content)
    with pytest.raises(ResumeError, match="not a valid key fingerprint record"):
        check_resume_keys(output, keys_a)


def test_key_rotation_between_runs_allowed(
    tmp_path: Path, deidentifier: Deidentifier, keys_a: KeyStore
) -> None:
    records = generate_corpus(4, seed=10)
    output = tmp_path / "deid"
    deid = with_keys(deidentifier, keys_a)
    deidentify_corpus(records[:2], output, deid, progress=False)
    first_key = keys_a.current_id

    second_key = keys_a.rotate()
    report = deidentify_corpus(records, output, deid, progress=False)

    assert report["processed_this_run"] == 2
    with sqlite3.connect(output / "vault.sqlite") as connection:
        key_ids = [row[0] for row in connection.execute("SELECT key_id FROM entries")]
    assert sorted(key_ids) == sorted([first_key] * 2 + [second_key] * 2)
    vault = Vault(output / "vault.sqlite", keys_a)
    try:
        assert all(vault.get(record) for record in vault.records())
    finally:
        vault.close()


def write_csv(path: Path, records: list[Record]) -> None:
    import csv

    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "summary", "patient_id"])
        for record in records:
            writer.writerow([record.id, record.text, record.summary, record.patient_id])


def test_cli_rejects_other_key_before_loading(
    tmp_path: Path,
    deidentifier: Deidentifier,
    keys_a: KeyStore,
    keys_b: KeyStore,
    monkeypatch,
    caplog,
) -> None:  # type: ignore[no-untyped-def]
    records = generate_corpus(2, seed=11)
    write_csv(tmp_path / "notes.csv", records)
    output = tmp_path / "out"
    deidentify_corpus(records[:1], output, with_keys(deidentifier, keys_a))

    def no_analyzer(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the analyzer was built before the key check")

    monkeypatch.setattr(Deidentifier, "create", classmethod(no_analyzer))
    monkeypatch.setenv("MEDSUM_KEY_DIR", str(keys_b.directory))
    caplog.set_level(logging.DEBUG)
    argv = ["deidentify", "--input", str(tmp_path / "notes.csv"), "--output", str(output)]

    assert main(argv) == 2
    assert "HMAC key of fingerprint" in caplog.text
    for value in planted(records):
        assert value not in caplog.text
    for form in key_texts(keys_a) + key_texts(keys_b):
        assert form not in caplog.text


def test_pipeline_stages_check_keys(
    tmp_path: Path, deidentifier: Deidentifier, keys_a: KeyStore, keys_b: KeyStore, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from medsum.stages import eval_split, stage_deidentify

    config = PipelineConfig(run_dir=str(tmp_path / "run"))
    deid_dir = tmp_path / "run" / "deid"
    deidentify_corpus(
        generate_corpus(1, seed=12), deid_dir / "eval", with_keys(deidentifier, keys_a)
    )

    def no_analyzer(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the analyzer was built before the key check")

    monkeypatch.setattr(Deidentifier, "create", classmethod(no_analyzer))
    monkeypatch.setenv("MEDSUM_KEY_DIR", str(keys_b.directory))
    with pytest.raises(ResumeError, match=keys_b.fingerprint):
        stage_deidentify(config)
    with pytest.raises(ResumeError, match=keys_a.fingerprint):
        eval_split(config)
