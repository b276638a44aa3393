"""The tamper-evident audit log.

Every API request, allowed or denied, appends one record: time, request id, principal, role,
action, outcome, HTTP status, SHA-256 of the request text and of the response summary, and the
model and adapter ids. Records never hold text. Each record's hash covers its fields and the
previous record's hash, so editing, deleting or reordering a record breaks the chain, which
`verify` reports.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from medsum.storage import audit_log

GENESIS = "0" * 64
CHAINED_FIELDS = (
    "time", "request_id", "principal", "role", "action", "outcome", "status_code",
    "input_sha256", "output_sha256", "model_id", "adapter_id", "prev_hash",
)  # fmt: skip


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _time_text(value: Any) -> str:
    # SQLite drops the time zone on read; normalize both sides to naive UTC text.
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def record_hash(fields: dict[str, Any]) -> str:
    canonical = {name: fields.get(name) for name in CHAINED_FIELDS}
    canonical["time"] = _time_text(canonical["time"])
    return sha256_text(json.dumps(canonical, sort_keys=True, separators=(",", ":")))


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # NOTE: the lock orders appends within one process. Several server processes writing
        # to one PostgreSQL database would need a table lock around the read-then-insert.
        self._lock = threading.Lock()

    def append(
        self,
        *,
        request_id: str,
        principal: str,
        role: str | None,
        action: str,
        outcome: str,
        status_code: int,
        input_sha256: str | None = None,
        output_sha256: str | None = None,
        model_id: str | None = None,
        adapter_id: str | None = None,
    ) -> str:
        """Append one record; returns its hash."""
        with self._lock, self.engine.begin() as connection:
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
                "input_sha256": input_sha256,
                "output_sha256": output_sha256,
                "model_id": model_id,
                "adapter_id": adapter_id,
                "prev_hash": last or GENESIS,
            }
            fields["record_hash"] = record_hash(fields)
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
            statement = statement.where(audit_log.c.time >= since)
        with self.engine.connect() as connection:
            rows = connection.execute(statement).mappings().all()
        return [{**row, "time": _time_text(row["time"]) + "Z"} for row in rows]

    def verify(self) -> list[dict[str, Any]]:
        """Recompute the chain; returns one problem per broken link (empty when intact)."""
        problems = []
        previous = GENESIS
        with self.engine.connect() as connection:
            rows = connection.execute(select(audit_log).order_by(audit_log.c.id)).mappings()
            for row in rows:
                if row["prev_hash"] != previous:
                    problems.append({"id": row["id"], "problem": "previous-hash link broken"})
                if record_hash(dict(row)) != row["record_hash"]:
                    problems.append({"id": row["id"], "problem": "record content altered"})
                previous = row["record_hash"]
        return problems
