"""The encrypted re-identification vault.

Each entry maps the surrogates of one record back to the original values. Entries are encrypted
with AES-256-GCM under the key store's current key; the key id, the nonce and the record's keyed
pseudonym are stored in clear beside the ciphertext, and the pseudonym and key id are bound to the
ciphertext as associated data, so an entry moved to another record fails to decrypt.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from medsum.keys import KeyStore

NONCE_BYTES = 12


class VaultError(RuntimeError):
    """Raised when a vault entry is missing or fails authentication."""


class Vault:
    """An SQLite file of encrypted surrogate-to-original mappings."""

    def __init__(self, path: Path, keys: KeyStore) -> None:
        self.path = Path(path)
        self.keys = keys
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys.ensure_outside(self.path.parent)
        self._connection = sqlite3.connect(self.path, check_same_thread=False)
        with self._connection:
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS entries (record TEXT PRIMARY KEY, key_id TEXT NOT NULL,"
                " nonce BLOB NOT NULL, ciphertext BLOB NOT NULL)"
            )
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            self._connection.execute(
                "INSERT OR IGNORE INTO meta VALUES ('key_fingerprint', ?)", (keys.fingerprint,)
            )
        stored = self._connection.execute(
            "SELECT value FROM meta WHERE name = 'key_fingerprint'"
        ).fetchone()[0]
        if stored != keys.fingerprint:
            # Another key store would re-pseudonymize resumed records and could not decrypt
            # the entries already here.
            raise VaultError(
                f"vault {self.path} was created with key store {stored}, but the keys in "
                f"{keys.directory} are {keys.fingerprint}; set MEDSUM_KEY_DIR to the original "
                "key directory"
            )

    def put(self, record: str, mapping: dict[str, str]) -> None:
        """Encrypt and store `mapping` (surrogate -> original) for `record`, replacing any entry."""
        key_id = self.keys.current_id
        nonce = os.urandom(NONCE_BYTES)
        aad = f"{record}\x1f{key_id}".encode()
        plaintext = json.dumps(mapping, ensure_ascii=False).encode("utf-8")
        ciphertext = AESGCM(self.keys.read(key_id)).encrypt(nonce, plaintext, aad)
        with self._connection:
            self._connection.execute(
                "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)",
                (record, key_id, nonce, ciphertext),
            )

    def get(self, record: str) -> dict[str, str]:
        row = self._connection.execute(
            "SELECT key_id, nonce, ciphertext FROM entries WHERE record = ?", (record,)
        ).fetchone()
        if row is None:
            raise VaultError("no vault entry for this record")
        key_id, nonce, ciphertext = row
        aad = f"{record}\x1f{key_id}".encode()
        try:
            plaintext = AESGCM(self.keys.read(key_id)).decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise VaultError(f"vault entry failed authentication (key {key_id})") from None
        mapping: dict[str, str] = json.loads(plaintext)
        return mapping

    def records(self) -> list[str]:
        return [row[0] for row in self._connection.execute("SELECT record FROM entries")]

    def reencrypt_all(self) -> int:
        """Re-encrypt every entry under the current key (after `KeyStore.rotate`)."""
        count = 0
        for record in self.records():
            self.put(record, self.get(record))
            count += 1
        return count

    def close(self) -> None:
        self._connection.close()
