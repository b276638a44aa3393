"""Database access through SQLAlchemy: an SQLite file by default, PostgreSQL in production.

Tables: `api_tokens` (hashed bearer tokens and their roles) and `audit_log` (the hash-chained
audit records). No table stores note text.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
)

metadata = MetaData()

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("request_id", String(36), nullable=False),
    Column("principal", String(128), nullable=False),
    Column("role", String(32), nullable=True),
    Column("action", String(64), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("input_hash", String(64), nullable=True),
    Column("output_hash", String(64), nullable=True),
    Column("model_id", String(256), nullable=True),
    Column("adapter_id", String(256), nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("record_hash", String(64), nullable=False, unique=True),
)


def open_database(url: str) -> Engine:
    """Create the engine and the tables if they are missing."""
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        # WAL lets readers (audit queries) run while a request writes.
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

    metadata.create_all(engine)
    return engine
