"""Bearer tokens and roles.

A token is shown once when created; only its SHA-256 is stored. Tokens carry 256 bits of
randomness, so an unsalted hash is enough to make a stolen table useless. Roles map to
permissions:

    clinician    summarize, see PHI in responses
    integration  summarize, see PHI in responses
    research     summarize, responses stay de-identified
    auditor      read and verify the audit log
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from medsum.storage import api_tokens

TOKEN_PREFIX = "msk_"
ROLES: dict[str, frozenset[str]] = {
    "clinician": frozenset({"summarize", "phi"}),
    "integration": frozenset({"summarize", "phi"}),
    "research": frozenset({"summarize"}),
    "auditor": frozenset({"audit"}),
}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: token name and role, never the token itself."""

    name: str
    role: str

    def can(self, permission: str) -> bool:
        return permission in ROLES.get(self.role, frozenset())


class TokenStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, name: str, role: str) -> str:
        """Create a token for `name` with `role`; returns the token, which is not stored."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {sorted(ROLES)}")
        if not name or len(name) > 128:
            raise ValueError("token name must be 1-128 characters")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as connection:
            active = connection.execute(
                select(api_tokens.c.id).where(
                    api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None)
                )
            ).first()
            if active is not None:
                raise ValueError(
                    f"an active token named {name!r} exists; revoke it first or pick another name"
                )
            connection.execute(
                insert(api_tokens).values(
                    name=name,
                    role=role,
                    token_sha256=token_hash(token),
                    created_at=datetime.now(UTC),
                )
            )
        return token

    def authenticate(self, token: str) -> Principal | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(api_tokens.c.name, api_tokens.c.role).where(
                    api_tokens.c.token_sha256 == token_hash(token),
                    api_tokens.c.revoked_at.is_(None),
                )
            ).first()
        return Principal(name=row.name, role=row.role) if row else None

    def revoke(self, name: str) -> bool:
        with self.engine.begin() as connection:
            result = connection.execute(
                update(api_tokens)
                .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        return bool(result.rowcount)

    def list(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(
                    api_tokens.c.name,
                    api_tokens.c.role,
                    api_tokens.c.created_at,
                    api_tokens.c.revoked_at,
                )
            ).all()
        return [
            {
                "name": row.name,
                "role": row.role,
                "created_at": row.created_at.isoformat(),
                "revoked": row.revoked_at is not None,
            }
            for row in rows
        ]
