"""Key material for the re-identification vault and keyed pseudonyms.

Keys live in a key directory outside every run and data directory (`MEDSUM_KEY_DIR`, default
`~/.config/medsum/keys`), one file per key, readable only by the owner. The vault encrypts each
record under the current key and stores the key id beside the ciphertext, so keys can be rotated
without re-encrypting old records. The HMAC key for pseudonyms and date shifts is separate from
the encryption keys and never rotates, because rotating it would break per-patient consistency.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

KEY_BYTES = 32
HMAC_KEY_NAME = "hmac"
CURRENT_FILE = "current"
# Key ids come back from vault rows, so only these shapes may name a file in the key directory.
KEY_ID = re.compile(r"(?:hmac|enc-\d{1,9})")


class KeyError_(RuntimeError):
    """Raised when key material is missing, unreadable or stored in an unsafe place."""


def default_key_dir() -> Path:
    configured = os.environ.get("MEDSUM_KEY_DIR")
    return Path(configured) if configured else Path.home() / ".config" / "medsum" / "keys"


@dataclass
class KeyStore:
    """A directory of 256-bit keys: `hmac.key`, `enc-<n>.key` and a `current` pointer."""

    directory: Path

    @classmethod
    def open(cls, directory: Path | None = None, *, create: bool = True) -> KeyStore:
        store = cls(Path(directory) if directory else default_key_dir())
        if create:
            store.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not (store.directory / f"{HMAC_KEY_NAME}.key").exists():
                store._write_key(HMAC_KEY_NAME)
            if not (store.directory / CURRENT_FILE).exists():
                store.rotate()
        elif not store.directory.is_dir():
            raise KeyError_(
                f"key directory not found: {store.directory}; run `medsum keys show` to create it"
            )
        return store

    def ensure_outside(self, *data_dirs: Path) -> None:
        """Raise if the key directory lies inside any of `data_dirs`."""
        keys = self.directory.resolve()
        for data_dir in data_dirs:
            data = Path(data_dir).resolve()
            if keys == data or data in keys.parents:
                raise KeyError_(
                    f"key directory {keys} is inside data directory {data}; keys must live "
                    "outside run and data directories (set MEDSUM_KEY_DIR)"
                )

    def _write_key(self, name: str) -> bool:
        """Write a new key file; returns False when another process created it first."""
        path = self.directory / f"{name}.key"
        temporary = self.directory / f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        # link() never replaces an existing file, so a concurrent creator's key wins intact and
        # no reader ever sees a partly written key.
        try:
            os.link(temporary, path)
            return True
        except FileExistsError:
            return False
        finally:
            temporary.unlink()

    def read(self, name: str) -> bytes:
        if not KEY_ID.fullmatch(name):
            raise KeyError_("invalid key id; expected 'hmac' or 'enc-<number>'")
        path = self.directory / f"{name}.key"
        try:
            material = path.read_bytes()
        except FileNotFoundError:
            raise KeyError_(f"key {name!r} not found in {self.directory}") from None
        if len(material) != KEY_BYTES:
            raise KeyError_(f"key {name!r} in {self.directory} has the wrong length")
        return material

    @property
    def current_id(self) -> str:
        key_id = (self.directory / CURRENT_FILE).read_text().strip()
        if not KEY_ID.fullmatch(key_id):
            raise KeyError_(f"{self.directory / CURRENT_FILE} does not name a valid key id")
        return key_id

    @property
    def fingerprint(self) -> str:
        """Short public identifier of the HMAC key, to detect a run resumed with other keys."""
        import hashlib

        return hashlib.sha256(b"medsum-key-fingerprint" + self.hmac_key).hexdigest()[:16]

    def rotate(self) -> str:
        """Create a new encryption key and make it current; old keys stay for decryption."""
        existing = [p.stem for p in self.directory.glob("enc-*.key") if KEY_ID.fullmatch(p.stem)]
        number = 1 + max((int(name.split("-")[1]) for name in existing), default=0)
        while not self._write_key(f"enc-{number}"):
            number += 1
        key_id = f"enc-{number}"
        partial = self.directory / (CURRENT_FILE + ".partial")
        partial.write_text(key_id)
        os.replace(partial, self.directory / CURRENT_FILE)
        return key_id

    @property
    def hmac_key(self) -> bytes:
        return self.read(HMAC_KEY_NAME)
