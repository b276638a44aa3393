"""Token store and audit log on every supported database: SQLite, and PostgreSQL when
MEDSUM_TEST_POSTGRES_URL names a server (CI starts one; MEDSUM_REQUIRE_POSTGRES=1 makes its
absence a failure)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from medsum.audit import AuditLog
from medsum.auth import TokenStore
from medsum.storage import audit_log, metadata, open_database


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path: Path) -> Engine:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return open_database(f"sqlite:///{tmp_path / 'store.db'}")
    url = os.environ.get("MEDSUM_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("MEDSUM_REQUIRE_POSTGRES") == "1":
            pytest.fail("MEDSUM_TEST_POSTGRES_URL is not set; start scripts/start-test-postgres.sh")
        pytest.skip("MEDSUM_TEST_POSTGRES_URL not set; PostgreSQL tests need a server")
    engine = open_database(url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    return engine


def test_token_lifecycle(engine: Engine) -> None:
    store = TokenStore(engine)
    token = store.create("ehr-gateway", "integration")
    principal = store.authenticate(token)
    assert principal is not None
    assert principal.role == "integration"
    assert store.authenticate(token + "x") is None
    assert store.revoke("ehr-gateway")
    assert store.authenticate(token) is None
    assert store.list()[0]["revoked"] is True


def test_token_stored_hashed(engine: Engine) -> None:
    token = TokenStore(engine).create("n", "clinician")
    with engine.connect() as connection:
        dumped = str(connection.execute(text("SELECT * FROM api_tokens")).all())
    assert token not in dumped


def test_unknown_role_rejected(engine: Engine) -> None:
    with pytest.raises(ValueError, match="unknown role"):
        TokenStore(engine).create("n", "admin")


def test_audit_chain_round_trip(engine: Engine) -> None:
    log = AuditLog(engine, b"k" * 32)
    for outcome in ("ok", "denied_role", "ok"):
        log.append(
            request_id=str(uuid.uuid4()), principal="clinician-1", role="clinician",
            action="summarize", outcome=outcome, status_code=200 if outcome == "ok" else 403,
            input_hash="a" * 64, output_hash="b" * 64, model_id="m", adapter_id="x",
        )  # fmt: skip
    assert log.verify() == []
    assert [r["outcome"] for r in log.query(limit=2)] == ["ok", "denied_role"]
    assert len(log.query(action="summarize")) == 3
    with engine.begin() as connection:
        connection.execute(audit_log.update().where(audit_log.c.id == 1).values(principal="x"))
    assert log.verify()[0]["id"] == 1
