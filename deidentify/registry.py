"""A per-patient register of name surrogates, so that one name keeps one surrogate in every note.

Surrogates are keyed draws from a pool of about 3,000 names. Two names of one patient draw the
same surrogate now and then, and within one text the second name then takes its next candidate.
Without a register that choice depends on which names share a text: "Okafor" could get "Beck" in
a note where "Vance" is absent and "Lund" in a note where "Vance" took "Beck". The register
records, per patient, which surrogate each name has, and no surrogate is given to two names of
one patient.

Rows hold the patient's keyed pseudonym, a keyed digest of the original name token (never the
token) and the surrogate. The file is SQLite. Forked worker processes open their own connection
and claim surrogates in transactions, so two processes cannot give one surrogate to two names.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deidentify.surrogates import SurrogateGenerator

# The register's file name in a de-identification output directory.
NAME_REGISTRY_NAME = "name-registry.sqlite"
# Seconds a writer waits for another process's transaction on the file.
BUSY_TIMEOUT_S = 60.0


class RegistryError(RuntimeError):
    """Raised when the register file cannot be read or written, or contains invalid rows."""


class NameRegistry:
    """An SQLite file of (patient, name digest) -> surrogate rows, unique per patient both ways."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection: sqlite3.Connection | None = None
        self._pid = -1
        try:
            with self._connect() as connection:
                connection.execute(
                    "CREATE TABLE IF NOT EXISTS names (patient TEXT NOT NULL, digest TEXT NOT NULL,"
                    " surrogate TEXT NOT NULL, PRIMARY KEY (patient, digest),"
                    " UNIQUE (patient, surrogate))"
                )
        except sqlite3.Error as error:
            raise self.error(error) from None
        # Closed again, so that worker processes forked after this do not inherit it.
        self.close()

    def _connect(self) -> sqlite3.Connection:
        # A connection must not cross a fork, so each process opens its own.
        if self._connection is None or self._pid != os.getpid():
            try:
                self._connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
            except sqlite3.Error as error:
                raise self.error(error) from None
            self._pid = os.getpid()
        return self._connection

    def error(self, error: Exception) -> RegistryError:
        """Return the error to raise for a failed read or write of the register file."""
        return RegistryError(
            f"name register {self.path} could not be read or written "
            f"({type(error).__name__}); restore the file from a backup, or de-identify into a "
            "new output directory"
        )

    def lookup(self, patient: str, digest: str) -> str | None:
        """Return the surrogate registered for a name digest of `patient`, or None."""
        try:
            row = (
                self._connect()
                .execute(
                    "SELECT surrogate FROM names WHERE patient = ? AND digest = ?",
                    (patient, digest),
                )
                .fetchone()
            )
        except sqlite3.Error as error:
            raise self.error(error) from None
        return None if row is None else str(row[0])

    def is_claimed(self, patient: str, surrogate: str) -> bool:
        """Return whether `surrogate` is already assigned to a name of `patient`."""
        try:
            row = (
                self._connect()
                .execute(
                    "SELECT 1 FROM names WHERE patient = ? AND surrogate = ?", (patient, surrogate)
                )
                .fetchone()
            )
        except sqlite3.Error as error:
            raise self.error(error) from None
        return row is not None

    def claim(self, patient: str, digest: str, surrogate: str) -> str | None:
        """Register `surrogate` for a name digest and return the surrogate the name now has.

        When another process registered the same name first, its surrogate is returned. When
        another name took `surrogate` first, the result is None and the caller tries its next
        candidate.
        """
        connection = self._connect()
        try:
            with connection:
                connection.execute(
                    "INSERT INTO names (patient, digest, surrogate) VALUES (?, ?, ?)",
                    (patient, digest, surrogate),
                )
        except sqlite3.IntegrityError:
            return self.lookup(patient, digest)
        except sqlite3.Error as error:
            raise self.error(error) from None
        return surrogate

    def close(self) -> None:
        if self._connection is not None and self._pid == os.getpid():
            self._connection.close()
        self._connection = None


def check_registry_present(output_dir: Path, records_written: int) -> None:
    """Raise ResumeError when records are written to `output_dir` but its register is missing.

    Without it, resumed records could give a name another surrogate than before.
    """
    # Imported here because `deidentify.resume` imports the surrogates, which import this module.
    from deidentify.resume import ResumeError

    path = output_dir / NAME_REGISTRY_NAME
    if records_written and not path.exists():
        raise ResumeError(
            f"{path} is missing, but {records_written} records are already written; restore it "
            "from a backup, or de-identify into a new output directory"
        )


@contextmanager
def attached_registry(generator: SurrogateGenerator, path: Path) -> Iterator[NameRegistry]:
    """Attach the register at `path` to `generator` for the block, then restore its previous one."""
    registry = NameRegistry(path)
    previous = generator.registry
    generator.registry = registry
    try:
        yield registry
    finally:
        generator.registry = previous
        registry.close()
