"""The HIPAA Safe Harbor rule for US ZIP codes: keep the first three digits, or 000 for small areas.

Safe Harbor (45 CFR 164.514(b)(2)(i)(B)) allows the first three digits of a ZIP code only when
all ZIP codes sharing them cover more than 20,000 people. Prefixes of smaller areas are listed in
`data/safe_harbor_zip3.txt` with their source and become 000.
"""

from __future__ import annotations

import re
from pathlib import Path

# A five-digit ZIP code, optionally followed by the ZIP+4 extension ("02115" or "02115-1234").
ZIP_CODE = re.compile(r"\d{5}(?:-\d{4})?")
RESTRICTED_PREFIX_REPLACEMENT = "000"
# The two digits that Safe Harbor removes are written as "XX", so the output cannot be mistaken
# for a real five-digit ZIP code.
REMOVED_DIGITS = "XX"


def _load_restricted_prefixes() -> frozenset[str]:
    path = Path(__file__).parent / "data" / "safe_harbor_zip3.txt"
    prefixes = frozenset(
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )
    malformed = sorted(prefix for prefix in prefixes if not re.fullmatch(r"\d{3}", prefix))
    if malformed:
        raise ValueError(f"{path}: expected three-digit ZIP prefixes, found {malformed}")
    return prefixes


RESTRICTED_PREFIXES = _load_restricted_prefixes()


def is_zip_code(text: str) -> bool:
    """Return whether `text`, stripped, is a five-digit ZIP code or a ZIP+4 code."""
    return ZIP_CODE.fullmatch(text.strip()) is not None


def safe_harbor_zip(text: str) -> str:
    """Generalize a ZIP code to what Safe Harbor allows.

    "02115-1234" becomes "021XX"; "03601" becomes "000XX" because 036 is a restricted prefix.
    Raises ValueError when `text` is not a ZIP code, because callers must redact such spans.
    """
    if not is_zip_code(text):
        raise ValueError("value is not a five-digit or ZIP+4 code")
    prefix = text.strip()[:3]
    if prefix in RESTRICTED_PREFIXES:
        prefix = RESTRICTED_PREFIX_REPLACEMENT
    return prefix + REMOVED_DIGITS
