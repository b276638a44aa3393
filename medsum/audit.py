"""The tamper-evident audit log.

Every API request, allowed or denied, appends one record: time, request id, principal, role,
action, outcome, HTTP status, keyed hashes of the request text and of the response summary, and
the model and adapter ids. Records never hold text.

Hashes are HMAC-SHA256 under an audit key derived from the key store's HMAC key, which lives
outside the database. Two consequences: someone who can edit the database but not read the key
cannot recompute a valid chain after changing a record, and an auditor who reads the log cannot
test guesses of a note's text against its hash. Each record's hash covers its fields and the
previous record's hash, so an edited, deleted or reordered record breaks the chain. Removing
records from the end leaves a valid shorter chain. To detect that, `head()` returns the record
count and last hash, which auditors store elsewhere and pass back to `verify()`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, text

from medsum.storage import audit_log

GENESIS = "0" * 64
CHAINED_FIELDS = (
    "time", "request_id", "principal", "role", "action", "outcome", "status_code",
    "input_hash", "output_hash", "model_id", "adapter_id", "prev_hash",
)  # fmt: skip


def derive_audit_key(hmac_key: bytes) -> bytes:
    """Derive the audit log's own key, so that it differs from the pseudonym key."""
    return hmac.new(hmac_key, b"medsum-audit-log", hashlib.sha256).digest()


def _time_text(value: Any) -> str:
    # SQLite drops the time zone on read; normalize both sides to naive UTC text.
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return str(value.isoformat(timespec="microseconds"))


class AuditLog:
    def __init__(self, engine: Engine, key: bytes) -> None:
        self.engine = engine
        self._key = key
        # Orders appends within one process; across processes the PostgreSQL table lock in
        # `append` does. SQLite serializes writers itself but two processes could still read
        # the same previous hash, so run one server process per SQLite file.
        self._lock = threading.Lock()

    def digest(self, value: str) -> str:
        """Keyed hash of a text (request or summary) for the audit record."""
        return hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def record_hash(self, fields: dict[str, Any]) -> str:
        canonical = {name: fields.get(name) for name in CHAINED_FIELDS}
        canonical["time"] = _time_text(canonical["time"])
        return self.digest(json.dumps(canonical, sort_keys=True, separators=(",", ":")))

    def append(
        self,
        *,
        request_id: str,
        principal: str,
        role: str | None,
        action: str,
        outcome: str,
        status_code: int,
        input_hash: str | None = None,
        output_hash: str | None = None,
        model_id: str | None = None,
        adapter_id: str | None = None,
    ) -> str:
        """Append one record; returns its hash."""
        with self._lock, self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"))
            last = connection.execute(
                select(audit_log.c.record_hash).order_by(audit_log.c.id.desc()).limit(1)
            ).scalar()
            fields: dict[str, Any] = {
                "time": datetime.now(UTC),
                "request_id": request_id,
                "principal": principal,
                "role": role,
                "action": action,
                "outcome": outcome,
                "status_code": status_code,
                "input_hash": input_hash,
                "output_hash": output_hash,
                "model_id": model_id,
                "adapter_id": adapter_id,
                "prev_hash": last or GENESIS,
            }
            fields["record_hash"] = self.record_hash(fields)
            connection.execute(insert(audit_log).values(**fields))
        return str(fields["record_hash"])

    def query(
        self,
        *,
        limit: int = 100,
        principal: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Return records newest first, filtered by principal, action and start time."""
        statement = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if principal:
            statement = statement.where(audit_log.c.principal == principal)
        if action:
            statement = statement.where(audit_log.c.action == action)
        if since:
            if since.tzinfo is not None:
                since = since.astimezone(UTC)
            if self.engine.dialect.name == "sqlite":
                since = since.replace(tzinfo=None)  # SQLite compares stored naive UTC text
            statement = statement.where(audit_log.c.time >= since)
        with self.engine.connect() as connection:
            rows = connection.execute(statement).mappings().all()
        return [{**row, "time": _time_text(row["time"]) + "Z"} for row in rows]

    def head(self) -> dict[str, Any]:
        """Return the record count and the last record's hash, to store outside the database."""
        with self.engine.connect() as connection:
            count = connection.execute(select(func.count()).select_from(audit_log)).scalar() or 0
            last = connection.execute(
                select(audit_log.c.record_hash).order_by(audit_log.c.id.desc()).limit(1)
            ).scalar()
        return {"records": int(count), "last_hash": last or GENESIS}

    def verify(self, expected_head: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Recompute the chain; returns one problem per broken link (empty when intact).

        With `expected_head` (an earlier `head()`), also report records removed since then.
        """
        problems: list[dict[str, Any]] = []
        previous = GENESIS
        position = 0
        head_seen = expected_head is None or expected_head["records"] == 0
        with self.engine.connect() as connection:
            rows = connection.execute(select(audit_log).order_by(audit_log.c.id)).mappings()
            for row in rows:
                position += 1
                if row["prev_hash"] != previous:
                    problems.append({"id": row["id"], "problem": "previous-hash link broken"})
                if self.record_hash(dict(row)) != row["record_hash"]:
                    problems.append({"id": row["id"], "problem": "record content altered"})
                if expected_head is not None and position == expected_head["records"]:
                    head_seen = row["record_hash"] == expected_head["last_hash"]
                previous = row["record_hash"]
        if not head_seen:
            problems.append(
                {"id": None, "problem": "records missing or replaced since the recorded head"}
            )
        return problems
