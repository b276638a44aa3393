"""The HTTP API through FastAPI's test client, with a tiny random model and the real tokenizer,
Presidio and SQLite. The end-to-end test serves the real model under uvicorn."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from medsum.api import MAX_BODY_BYTES, ServiceSettings, Summarizer, create_app
from medsum.audit import AuditLog
from medsum.auth import TokenStore
from medsum.storage import audit_log, open_database

PHI_TEXT = (
    "Doctor: Good morning, I'm Doctor Castellano.\n"
    "Patient: Hi, it's Rosalind Pemberton-Hale. My MRN is 8812734.\n"
    "Doctor: You were last here on 02/17/2023. Still at (617) 555-0142?\n"
    "Patient: Yes. I have had a headache for three days."
)
PHI_VALUES = ["Castellano", "Rosalind", "Pemberton", "8812734", "02/17/2023", "555-0142"]


@pytest.fixture()
def service(tmp_path: Path, tiny_model, tokenizer, deidentifier):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'service.db'}"
    settings = ServiceSettings(database_url=url, max_new_tokens=8)
    summarizer = Summarizer(
        settings, model=tiny_model.eval(), tokenizer=tokenizer, deidentifier=deidentifier
    )
    app = create_app(settings, summarizer)
    store = TokenStore(open_database(url))
    tokens = {
        role: store.create(f"{role}-1", role) for role in ("clinician", "research", "auditor")
    }
    with TestClient(app) as client:
        yield client, tokens, url


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def audit_rows(url: str) -> list[dict]:
    with open_database(url).connect() as connection:
        return [dict(row) for row in connection.execute(select(audit_log)).mappings()]


def test_summary_ok_and_audited(service) -> None:  # type: ignore[no-untyped-def]
    client, tokens, url = service
    response = client.post(
        "/v1/summaries",
        json={"text": PHI_TEXT, "patient_id": "p1"},
        headers=auth(tokens["clinician"]),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["deidentified"] is False
    assert body["phi_entities"]["PERSON"] >= 2
    assert response.headers["X-Request-ID"] == body["request_id"]
    rows = audit_rows(url)
    assert rows[-1]["outcome"] == "ok"
    assert rows[-1]["principal"] == "clinician-1"
    assert rows[-1]["request_id"] == body["request_id"]
    assert len(rows[-1]["input_hash"]) == 64
    assert len(rows[-1]["output_hash"]) == 64


def test_research_role_gets_deidentified_output(service) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _ = service
    response = client.post(
        "/v1/summaries", json={"text": PHI_TEXT}, headers=auth(tokens["research"])
    )
    assert response.status_code == 200
    assert response.json()["deidentified"] is True


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"json": {"text": ""}}, 422, "text"),
        ({"content": b"not json", "headers": {"Content-Type": "application/json"}}, 422, "JSON"),
        ({"json": {"text": "x", "colour": "red"}}, 422, "unknown field"),
        ({"json": {"text": 5}}, 422, "text"),
        ({"json": {"text": "x", "task": "poem"}}, 422, "task"),
        (
            {
                "content": b"{" + b"x" * (MAX_BODY_BYTES + 10),
                "headers": {"Content-Type": "application/json"},
            },
            413,
            "exceeds",
        ),
    ],
    ids=["empty-text", "non-json", "unknown-field", "wrong-type", "bad-task", "oversized"],
)
def test_bad_input_gets_clear_4xx(service, kwargs, status, message) -> None:  # type: ignore[no-untyped-def]
    client, tokens, url = service
    headers = {**auth(tokens["clinician"]), **kwargs.pop("headers", {})}
    response = client.post("/v1/summaries", headers=headers, **kwargs)
    assert response.status_code == status
    detail = response.json()["detail"]
    assert message in detail
    assert "Traceback" not in response.text
    assert audit_rows(url)[-1]["status_code"] == status


def test_invalid_request_does_not_echo_input(service) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _ = service
    response = client.post(
        "/v1/summaries",
        json={"text": PHI_TEXT, "patient": "Rosalind"},
        headers=auth(tokens["clinician"]),
    )
    assert response.status_code == 422
    for value in PHI_VALUES:
        assert value not in response.text


@pytest.mark.parametrize(
    ("token", "status", "outcome"),
    [
        (None, 401, "denied_no_token"),
        ("msk_wrong", 401, "denied_bad_token"),
        ("auditor", 403, "denied_role"),
    ],
    ids=["missing", "wrong", "wrong-role"],
)
def test_auth_failures_are_audited(service, token, status, outcome) -> None:  # type: ignore[no-untyped-def]
    client, tokens, url = service
    headers = auth(tokens.get(token, token)) if token else {}
    response = client.post("/v1/summaries", json={"text": "hello"}, headers=headers)
    assert response.status_code == status
    assert "Traceback" not in response.text
    assert audit_rows(url)[-1]["outcome"] == outcome


def test_revoked_token_rejected(service) -> None:  # type: ignore[no-untyped-def]
    client, tokens, url = service
    assert TokenStore(open_database(url)).revoke("clinician-1")
    response = client.post(
        "/v1/summaries", json={"text": "hello"}, headers=auth(tokens["clinician"])
    )
    assert response.status_code == 401


def test_audit_endpoint_for_auditor_only(service) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _ = service
    client.post("/v1/summaries", json={"text": "hello"}, headers=auth(tokens["clinician"]))
    assert client.get("/v1/audit", headers=auth(tokens["clinician"])).status_code == 403
    response = client.get("/v1/audit", headers=auth(tokens["auditor"]))
    assert response.status_code == 200
    records = response.json()["records"]
    assert any(r["action"] == "summarize" for r in records)
    verify = client.get("/v1/audit/verify", headers=auth(tokens["auditor"]))
    assert verify.json() == {"valid": True, "problems": []}


def test_audit_chain_detects_tampering(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'audit.db'}")
    log = AuditLog(engine, b"k" * 32)
    for index in range(3):
        log.append(
            request_id=f"r{index}",
            principal="p",
            role="clinician",
            action="summarize",
            outcome="ok",
            status_code=200,
        )
    assert log.verify() == []
    with engine.begin() as connection:
        connection.execute(
            audit_log.update().where(audit_log.c.id == 2).values(outcome="denied_role")
        )
    problems = log.verify()
    assert {"id": 2, "problem": "record content altered"} in problems
    with engine.begin() as connection:
        connection.execute(audit_log.delete().where(audit_log.c.id == 2))
    assert any(p["problem"] == "previous-hash link broken" for p in log.verify())


def test_audit_head_detects_removed_tail(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'audit.db'}")
    log = AuditLog(engine, b"k" * 32)
    for index in range(4):
        log.append(
            request_id=f"r{index}",
            principal="p",
            role=None,
            action="a",
            outcome="ok",
            status_code=200,
        )
    head = log.head()
    assert head["records"] == 4
    with engine.begin() as connection:
        connection.execute(audit_log.delete().where(audit_log.c.id >= 3))
    assert log.verify() == []
    assert log.verify(head)[-1]["problem"] == "records missing or replaced since the recorded head"


def test_audit_chain_needs_the_key(tmp_path: Path) -> None:
    """A chain rebuilt without the audit key does not verify."""
    engine = open_database(f"sqlite:///{tmp_path / 'audit.db'}")
    AuditLog(engine, b"k" * 32).append(
        request_id="r", principal="p", role=None, action="a", outcome="ok", status_code=200
    )
    assert AuditLog(engine, b"other-key" * 4).verify()[0]["problem"] == "record content altered"


def test_chunked_oversized_body_rejected(service) -> None:  # type: ignore[no-untyped-def]
    client, tokens, url = service

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 100_000

    response = client.post(
        "/v1/summaries",
        content=chunks(),
        headers={**auth(tokens["clinician"]), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert audit_rows(url)[-1]["action"] == "oversized_request"


def test_unknown_section_rejected(service) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _ = service
    response = client.post(
        "/v1/summaries",
        json={"text": "x", "task": "section", "section": "NOPE"},
        headers=auth(tokens["clinician"]),
    )
    assert response.status_code == 422
    assert "unknown section code" in response.json()["detail"]


def test_raw_paths_not_logged_or_audited(service, caplog) -> None:  # type: ignore[no-untyped-def]
    client, tokens, url = service
    caplog.set_level(logging.INFO)
    response = client.get(
        "/v1/patients/Rosalind Pemberton/notes", headers=auth(tokens["clinician"])
    )
    assert response.status_code == 404
    server_lines = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]
    assert any("unrouted -> 404" in line for line in server_lines)
    assert not any("Rosalind" in line for line in server_lines)
    assert "Rosalind" not in json.dumps(audit_rows(url), default=str)


def test_no_phi_in_logs_audit_or_errors(service, caplog) -> None:  # type: ignore[no-untyped-def]
    client, tokens, url = service
    caplog.set_level(logging.DEBUG)
    responses = [
        client.post(
            "/v1/summaries",
            json={"text": PHI_TEXT, "patient_id": "Rosalind Pemberton-Hale"},
            headers=auth(tokens["clinician"]),
        ),
        client.post("/v1/summaries", json={"text": PHI_TEXT}, headers=auth(tokens["research"])),
        client.post("/v1/summaries", json={"text": PHI_TEXT}, headers=auth(tokens["auditor"])),
        client.post(
            "/v1/summaries",
            json={"text": PHI_TEXT, "Rosalind Pemberton": 1},
            headers=auth(tokens["clinician"]),
        ),
        client.post("/v1/summaries", json={"text": PHI_TEXT}),
    ]
    assert [r.status_code for r in responses] == [200, 200, 403, 422, 401]
    stored = json.dumps(audit_rows(url), default=str)
    # The test client's own httpx logger records request URLs; everything else is the server's.
    server_log = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    for value in PHI_VALUES:
        assert value not in server_log, "PHI value in a log line"
        assert value not in stored, "PHI value in an audit record"
    for response in responses[2:]:
        for value in PHI_VALUES:
            assert value not in response.text, "PHI value in an error response"


def test_denied_call_uses_same_action_name(service) -> None:  # type: ignore[no-untyped-def]
    client, tokens, url = service
    client.post("/v1/summaries", json={"text": "Patient reports a cough."})
    client.get("/v1/audit", headers=auth(tokens["clinician"]))
    denied = [row for row in audit_rows(url) if row["outcome"].startswith("denied")]
    assert [row["action"] for row in denied] == ["summarize", "audit.query"]


def test_bad_audit_query_hint(service) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _ = service
    response = client.get("/v1/audit?limit=abc", headers=auth(tokens["auditor"]))
    assert response.status_code == 422
    assert "query parameters" in response.json()["detail"]
    assert "'text' string" not in response.json()["detail"]
