"""`medsum serve` with a de-identification policy: start-up checks, health, request path.

The app runs under uvicorn on 127.0.0.1 and httpx sends real HTTP requests to it.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from deidentify import Deidentifier, DeidResult
from deidentify.policy import Policy
from medsum.api import ServiceSettings, Summarizer, create_app
from medsum.auth import TokenStore
from medsum.cli import main
from medsum.keys import KeyStore
from medsum.storage import audit_log, open_database

NOTE = (
    "Doctor: Good morning, I'm Doctor Vandermolen.\n"
    "Patient: Hi, it's Philippa Stroudwater. My MRN is 6620194.\n"
    "Doctor: You were last here on 05/09/2023. Still at (617) 555-0163?\n"
    "Patient: Yes. The cough has not improved."
)
IDENTIFIERS = ["Vandermolen", "Philippa", "Stroudwater", "6620194", "05/09/2023", "555-0163"]
POLICY_TEXT = "default: surrogate\nentities:\n  PERSON: redact\n  PHONE_NUMBER: pseudonym\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_policy(path: Path, text: str = POLICY_TEXT) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


class _Served:
    """The app served by uvicorn in a background thread, and what the de-identifier produced."""

    def __init__(self, base_url: str, database_url: str, token: str) -> None:
        self.base_url = base_url
        self.database_url = database_url
        self.token = token
        self.deidentified: list[DeidResult] = []


@pytest.fixture()
def served(
    tmp_path: Path, tiny_model, tokenizer, deidentifier: Deidentifier, caplog
) -> Iterator[_Served]:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    policy = Policy.load(write_policy(tmp_path / "policy.yaml"))
    database_url = f"sqlite:///{tmp_path / 'service.db'}"
    settings = ServiceSettings(database_url=database_url, max_new_tokens=4, policy=policy)
    deid = Deidentifier(deidentifier.analyzer, KeyStore.open(), policy=policy)
    token = TokenStore(open_database(database_url)).create("research-1", "research")
    port = free_port()
    served = _Served(f"http://127.0.0.1:{port}", database_url, token)

    # Record the text the model is given, to check that the policy reached the request path.
    original = deid.deidentify

    def recording(text: str, *args: Any, **kwargs: Any) -> DeidResult:
        result = original(text, *args, **kwargs)
        served.deidentified.append(result)
        return result

    deid.deidentify = recording  # type: ignore[method-assign]
    summarizer = Summarizer(
        settings, model=tiny_model.eval(), tokenizer=tokenizer, deidentifier=deid
    )
    config = uvicorn.Config(
        create_app(settings, summarizer),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield served
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_health_shows_policy_hash(served: _Served, tmp_path: Path) -> None:
    response = httpx.get(f"{served.base_url}/healthz", timeout=10)
    expected = Policy.load(tmp_path / "policy.yaml").fingerprint()

    assert response.status_code == 200
    assert response.json()["deid_policy_sha256"] == expected
    assert expected != Policy().fingerprint()


def test_request_uses_policy(served: _Served, caplog) -> None:  # type: ignore[no-untyped-def]
    response = httpx.post(
        f"{served.base_url}/v1/summaries",
        json={"text": NOTE, "patient_id": "Philippa Stroudwater"},
        headers={"Authorization": f"Bearer {served.token}"},
        timeout=60,
    )

    assert response.status_code == 200, response.text
    assert response.json()["deidentified"] is True
    [result] = served.deidentified
    assert "[NAME]" in result.text
    assert re.search(r"\[PHONE-[0-9A-F]{6}\]", result.text)
    for value in IDENTIFIERS:
        assert value not in result.text
    with open_database(served.database_url).connect() as connection:
        rows = [dict(row) for row in connection.execute(select(audit_log)).mappings()]
    assert rows[-1]["outcome"] == "ok"
    stored = json.dumps(rows, default=str)
    # The client's own httpx and httpcore loggers record URLs; everything else is the server's.
    records = caplog.get_records("setup") + caplog.get_records("call")
    server_log = "\n".join(
        r.getMessage() for r in records if not r.name.startswith(("httpx", "httpcore"))
    )
    assert "de-identification policy" in server_log
    for value in IDENTIFIERS:
        assert value not in stored, "identifier in an audit record"
        assert value not in server_log, "identifier in a log line"
        assert value not in response.text, "identifier in the response"


def test_default_policy_hash_without_policy(tiny_model, tokenizer, deidentifier, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = ServiceSettings(database_url=f"sqlite:///{tmp_path / 's.db'}")
    summarizer = Summarizer(
        settings, model=tiny_model, tokenizer=tokenizer, deidentifier=deidentifier
    )
    assert summarizer.policy_sha256 == Policy().fingerprint()


def test_summarizer_rejects_other_policy(tiny_model, tokenizer, deidentifier, tmp_path) -> None:  # type: ignore[no-untyped-def]
    policy = Policy.load(write_policy(tmp_path / "policy.yaml"))
    settings = ServiceSettings(database_url=f"sqlite:///{tmp_path / 's.db'}", policy=policy)
    with pytest.raises(ValueError, match=r"another policy than settings\.policy"):
        Summarizer(settings, model=tiny_model, tokenizer=tokenizer, deidentifier=deidentifier)


# The command line: the policy reaches ServiceSettings, and a bad file stops start-up early.


@pytest.fixture()
def captured_settings(monkeypatch) -> list[ServiceSettings]:  # type: ignore[no-untyped-def]
    """Replace app creation and uvicorn, and collect the settings `medsum serve` builds."""
    captured: list[ServiceSettings] = []

    def fake_create_app(settings: ServiceSettings, summarizer: Any = None) -> object:
        captured.append(settings)
        return object()

    monkeypatch.setattr("medsum.api.create_app", fake_create_app)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    return captured


def test_serve_policy_option(tmp_path: Path, captured_settings) -> None:  # type: ignore[no-untyped-def]
    policy = write_policy(tmp_path / "policy.yaml")
    assert main(["serve", "--policy", str(policy)]) == 0
    [settings] = captured_settings
    assert settings.policy is not None
    assert settings.policy.fingerprint() == Policy.load(policy).fingerprint()

    captured_settings.clear()
    assert main(["serve"]) == 0
    assert captured_settings[0].policy is None


def test_serve_policy_from_config(tmp_path: Path, captured_settings) -> None:  # type: ignore[no-untyped-def]
    from_config = write_policy(tmp_path / "config-policy.yaml", "default: redact\n")
    override = write_policy(tmp_path / "policy.yaml")
    config = tmp_path / "pipeline.yaml"
    config.write_text(f"deidentify:\n  policy: {from_config}\n", encoding="utf-8")

    assert main(["serve", "--config", str(config)]) == 0
    assert main(["serve", "--config", str(config), "--policy", str(override)]) == 0
    first, second = captured_settings
    assert first.policy is not None
    assert second.policy is not None
    assert first.policy.fingerprint() == Policy.load(from_config).fingerprint()
    assert second.policy.fingerprint() == Policy.load(override).fingerprint()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("default: hash\n", "invalid action 'hash'"),
        ("entities:\n  SHOE_SIZE: redact\n", "unknown entity type(s) 'SHOE_SIZE'"),
        ("Philippa Stroudwater was seen on 05/09/2023.\n", "must be a YAML mapping"),
        (None, "is a directory"),
    ],
    ids=["bad-action", "bad-entity", "note-file", "directory"],
)
def test_serve_rejects_bad_policy_like_deidentify(
    tmp_path: Path, captured_settings, caplog, content: str | None, expected: str
) -> None:  # type: ignore[no-untyped-def]
    policy = tmp_path if content is None else write_policy(tmp_path / "policy.yaml", content)
    caplog.set_level(logging.DEBUG)

    assert main(["serve", "--policy", str(policy)]) == 2
    serve_error = caplog.text.split("serve failed: ", 1)[1].strip()
    caplog.clear()
    notes = tmp_path / "notes.jsonl"
    notes.write_text(json.dumps({"id": "1", "text": "x"}) + "\n", encoding="utf-8")
    argv = ["deidentify", "--input", str(notes), "--output", str(tmp_path / "out")]
    assert main([*argv, "--policy", str(policy)]) == 2
    deidentify_error = caplog.text.split("deidentify failed: ", 1)[1].strip()

    assert expected in serve_error
    assert serve_error == deidentify_error
    assert captured_settings == []
    for value in IDENTIFIERS:
        assert value not in serve_error
