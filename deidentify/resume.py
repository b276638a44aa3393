"""The run state that lets an interrupted de-identification run resume safely.

An output directory holds, beside its de-identified output, the state of the run that wrote it:
- `policy.json`: the transformation policy (source, SHA-256, actions);
- `key-fingerprint.json`: the fingerprint of the HMAC key that derived the pseudonyms,
  surrogates and date shifts, and the key directory it was read from. The fingerprint is
  `KeyStore.fingerprint`, a truncated SHA-256 of a fixed label and the key, so it reveals
  nothing about the key. The file also records the fingerprint of the surrogate pools
  (`surrogates.pool_fingerprint`), which can change between medsum releases.

Both are written before the first output line. A resumed run must match both, because output
written under another policy or another HMAC key cannot be mixed with what is already there:
under another key the same patient gets a second pseudonym, other surrogates and another date
shift. The vault's AES keys are not part of this state, so `medsum keys rotate` between two
runs is allowed.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

from deidentify.policy import Policy
from deidentify.surrogates import pool_fingerprint
from medsum.keys import KeyStore

POLICY_STATE_NAME = "policy.json"
KEY_STATE_NAME = "key-fingerprint.json"
RECORDS_NAME = "records.jsonl"
VAULT_NAME = "vault.sqlite"
# The file that marks the output of each input kind. All kinds write `trace.jsonl`, in different
# layouts, so one directory must hold the output of one kind only.
OUTPUT_KINDS = {
    RECORDS_NAME: "CSV, JSONL, MTS-Dialog or ACI-Bench",
    "resources.ndjson": "FHIR",
    "detections.phi": "PhysioNet",
}


# A key or pool fingerprint: 16 lower-case hex characters.
FINGERPRINT = re.compile(r"[0-9a-f]{16}")
# A run state written before the surrogate pools were recorded.
POOLS_NOT_RECORDED = object()


class ResumeError(ValueError):
    """Raised when an output directory contains output written under another policy or key."""


def has_output(path: Path) -> bool:
    """Return whether `path` contains at least one complete, non-blank line."""
    if not path.exists():
        return False
    with path.open("rb") as handle:
        return any(line.strip() and line.endswith(b"\n") for line in handle)


def truncate_torn_tail(path: Path) -> None:
    """Drop a last line without a newline, which an interrupted run leaves behind."""
    if not path.exists():
        return
    lines = path.read_bytes().splitlines(keepends=True)
    if lines and not lines[-1].endswith(b"\n"):
        path.write_bytes(b"".join(lines[:-1]))


def check_resume_policy(
    output_dir: Path, policy: Policy, *, output_name: str = RECORDS_NAME
) -> None:
    """Raise ResumeError unless `output_dir` is new or was started under an equivalent policy.

    `output_name` is the file whose lines are the de-identified output. Reads only, so a caller
    can check before the slow analyzer set-up.
    """
    state_path = output_dir / POLICY_STATE_NAME
    if not state_path.exists():
        if has_output(output_dir / output_name):
            raise ResumeError(
                f"{output_dir} contains de-identified records but no {POLICY_STATE_NAME}, so the "
                "policy they were written under is unknown; write to a new output directory"
            )
        return
    try:
        stored = json.loads(state_path.read_text(encoding="utf-8"))
        stored_hash, stored_source = stored["sha256"], stored["source"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise ResumeError(
            f"{state_path} is not a valid policy record; restore it from the original run, or "
            "write to a new output directory"
        ) from None
    current_hash = policy.fingerprint()
    if stored_hash != current_hash:
        raise ResumeError(
            f"{output_dir} contains records de-identified under policy {stored_hash[:12]} "
            f"({stored_source}), but this run uses policy {current_hash[:12]} "
            f"({policy.source}); resuming would mix the outputs of two policies. Rerun with "
            f"the policy recorded in {state_path}, or write to a new output directory to apply "
            "this policy to every record"
        )


def check_resume_keys(output_dir: Path, keys: KeyStore, *, output_name: str = RECORDS_NAME) -> None:
    """Raise ResumeError unless `output_dir` is new or was written under the same HMAC key.

    A directory written before key fingerprints were recorded is checked against the
    fingerprint that its vault stores. Reads only, so a caller can check before the slow
    analyzer set-up. The error shows fingerprints and key directories, never key material.
    """
    state_path = output_dir / KEY_STATE_NAME
    recorded_dir: str | None = None
    if state_path.exists():
        invalid = ResumeError(
            f"{state_path} is not a valid key fingerprint record; restore it from the "
            "original run, or write to a new output directory"
        )
        try:
            stored = json.loads(state_path.read_text(encoding="utf-8"))
            recorded, recorded_dir = stored["hmac_key_fingerprint"], stored["key_directory"]
        except (OSError, UnicodeDecodeError, RecursionError, ValueError, KeyError, TypeError):
            raise invalid from None
        # A value of another shape is not echoed: a tampered file may hold any text.
        if not (_is_fingerprint(recorded) and isinstance(recorded_dir, str)):
            raise invalid
        pools = stored.get("surrogate_pools", POOLS_NOT_RECORDED)
        if pools is not POOLS_NOT_RECORDED and not _is_fingerprint(pools):
            raise invalid
        if pools is not POOLS_NOT_RECORDED and pools != pool_fingerprint():
            raise ResumeError(
                f"{output_dir} was de-identified with surrogate pools of fingerprint {pools}, "
                f"but this medsum release draws surrogates from pools of fingerprint "
                f"{pool_fingerprint()}, so one patient would get two sets of surrogates. Finish "
                "the run with the medsum release that started it, or write to a new output "
                "directory"
            )
    else:
        vault_fingerprint = _vault_fingerprint(output_dir / VAULT_NAME)
        if vault_fingerprint is None:
            if has_output(output_dir / output_name):
                raise ResumeError(
                    f"{output_dir} contains de-identified records but no {KEY_STATE_NAME} and "
                    "no readable vault, so the HMAC key they were written under is unknown; "
                    "write to a new output directory"
                )
            return
        recorded = vault_fingerprint
    current = keys.fingerprint
    if recorded != current:
        origin = f" from {recorded_dir}" if recorded_dir else ""
        raise ResumeError(
            f"{output_dir} was de-identified with the HMAC key of fingerprint {recorded}{origin}, "
            f"but the key directory {keys.directory} holds the HMAC key of fingerprint {current}. "
            "Pseudonyms, surrogates and date shifts of the two keys differ, so one patient would "
            "become two. Set MEDSUM_KEY_DIR to the directory that holds the original hmac.key "
            "(or restore that file), or write to a new output directory"
        )


def _is_fingerprint(value: object) -> bool:
    return isinstance(value, str) and FINGERPRINT.fullmatch(value) is not None


def check_output_kind(output_dir: Path, output_name: str) -> None:
    """Raise ResumeError when `output_dir` contains the output of another input kind.

    `output_name` is the output file of this run's kind (a key of OUTPUT_KINDS). Without this
    check, a run would append to or overwrite the other run's `trace.jsonl`.
    """
    for name, kind in OUTPUT_KINDS.items():
        if name != output_name and (output_dir / name).exists():
            raise ResumeError(
                f"{output_dir} contains {name}, the output of a {kind} run, and this run "
                f"would overwrite or extend that run's trace.jsonl; write to a new output "
                "directory"
            )


def check_resume(
    output_dir: Path, policy: Policy, keys: KeyStore, *, output_name: str = RECORDS_NAME
) -> None:
    """Run `check_output_kind`, `check_resume_policy` and `check_resume_keys` on `output_dir`."""
    check_output_kind(output_dir, output_name)
    check_resume_policy(output_dir, policy, output_name=output_name)
    check_resume_keys(output_dir, keys, output_name=output_name)


def record_run_state(output_dir: Path, policy: Policy, keys: KeyStore) -> None:
    """Write `policy.json` and `key-fingerprint.json` where missing, after `check_resume`."""
    states: dict[str, dict[str, Any]] = {
        POLICY_STATE_NAME: policy.describe(),
        KEY_STATE_NAME: {
            "hmac_key_fingerprint": keys.fingerprint,
            "key_directory": str(keys.directory),
            "surrogate_pools": pool_fingerprint(),
        },
    }
    for name, state in states.items():
        path = output_dir / name
        if path.exists():
            continue
        partial = path.with_name(name + ".partial")
        partial.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, path)


def _vault_fingerprint(path: Path) -> str | None:
    """Return the key fingerprint stored in a vault file, or None when there is none."""
    if not path.is_file():
        return None
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = connection.execute(
                "SELECT value FROM meta WHERE name = 'key_fingerprint'"
            ).fetchone()
        finally:
            connection.close()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None
