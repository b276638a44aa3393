"""Surrogate values for detected PHI, consistent per patient and derived from a keyed HMAC.

Every surrogate is a deterministic function of (HMAC key, patient pseudonym, entity type, the
normalized original), so the same patient gets the same replacement in every note without any
stored state. Names are replaced token by token ("John Smith" and "Mr. Smith" share the surrogate
for "Smith"). Dates move by a per-patient shift, which preserves the intervals between that
patient's dates. When a value cannot be transformed safely (an unparseable date, an unknown
entity type) the surrogate is a redaction tag, never the original.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date, datetime, timedelta

NAME_POOL = [
    "Avery", "Blake", "Carter", "Dana", "Ellis", "Finley", "Harper", "Jordan", "Kendall", "Logan",
    "Morgan", "Parker", "Quinn", "Reese", "Rowan", "Sawyer", "Taylor", "Emerson", "Hayden",
    "Sutton", "Adler", "Barlow", "Calloway", "Dunmore", "Everly", "Fenwick", "Galloway", "Hartley",
    "Ingram",
    "Jessup", "Kingsley", "Lockhart", "Merritt", "Norwood", "Oakley", "Pemberton", "Radcliffe",
    "Stanton", "Thorne", "Underhill", "Vance", "Wexler", "Yardley", "Ashby", "Brandt", "Corwin",
]  # fmt: skip
CITY_POOL = [
    "Ashford", "Brookfield", "Cedar Grove", "Dalton", "Easton", "Glenwood", "Hillcrest", "Kingston",
    "Maplewood", "Northfield", "Oak Ridge", "Pinehurst", "Redmond", "Stonebridge", "Westbury",
]  # fmt: skip
MAX_DATE_SHIFT_DAYS = 365
DATE_FORMATS = [
    ("%m/%d/%Y", "%m/%d/%Y"),
    ("%m/%d/%y", "%m/%d/%y"),
    ("%m-%d-%Y", "%m-%d-%Y"),
    ("%Y-%m-%d", "%Y-%m-%d"),
    ("%B %d, %Y", "%B %d, %Y"),
    ("%B %d %Y", "%B %d %Y"),
    ("%b %d, %Y", "%b %d, %Y"),
    ("%d %B %Y", "%d %B %Y"),
    ("%B %Y", "%B %Y"),
    ("%B %d", "%B %d"),
    ("%b %d", "%b %d"),
    ("%m/%d", "%m/%d"),
]
REDACTION_TAGS = {
    "PERSON": "[NAME]",
    "LOCATION": "[LOCATION]",
    "DATE": "[DATE]",
    "PHONE_NUMBER": "[PHONE]",
    "EMAIL_ADDRESS": "[EMAIL]",
    "MEDICAL_RECORD_NUMBER": "[MRN]",
    "US_SSN": "[SSN]",
    "IP_ADDRESS": "[IP]",
    "URL": "[URL]",
    "CREDIT_CARD": "[ACCOUNT]",
    "IBAN_CODE": "[ACCOUNT]",
    "AGE": "90+",
}
NAME_TOKEN = re.compile(r"[A-Za-z][A-Za-z'\-]*")
TITLES = {"mr", "mrs", "ms", "miss", "dr", "doctor", "prof", "sir", "madam"}


def redaction_tag(entity_type: str) -> str:
    return REDACTION_TAGS.get(entity_type, f"[{entity_type}]")


class SurrogateGenerator:
    """Produce surrogates for one HMAC key."""

    def __init__(self, hmac_key: bytes) -> None:
        self._key = hmac_key

    def _digest(self, *parts: str) -> bytes:
        message = "\x1f".join(parts).encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def _number(self, *parts: str) -> int:
        return int.from_bytes(self._digest(*parts)[:8], "big")

    def pseudonym(self, patient_id: str) -> str:
        """Keyed pseudonym of a patient id: 16 hex characters of HMAC-SHA256."""
        return self._digest("patient", patient_id).hex()[:16]

    def record_key(self, record_id: str) -> str:
        """Keyed pseudonym of a record id; names the record's vault entry."""
        return self._digest("record", record_id).hex()[:24]

    def date_shift_days(self, patient: str) -> int:
        """Per-patient date shift in days, in [-365, -1] or [1, 365], never zero."""
        value = self._number("date-shift", patient) % (2 * MAX_DATE_SHIFT_DAYS)
        return (
            value - MAX_DATE_SHIFT_DAYS
            if value < MAX_DATE_SHIFT_DAYS
            else value - MAX_DATE_SHIFT_DAYS + 1
        )

    def surrogate(
        self, entity_type: str, original: str, patient: str, taken: dict[str, str] | None = None
    ) -> str:
        """Return the replacement for `original`; a redaction tag when no safe surrogate exists."""
        method = {
            "PERSON": lambda value, who: self._person(value, who, taken),
            "LOCATION": self._location,
            "DATE": self._date,
            "PHONE_NUMBER": self._digits,
            "MEDICAL_RECORD_NUMBER": self._digits,
            "US_SSN": self._digits,
            "EMAIL_ADDRESS": self._email,
            "AGE": self._age,
        }.get(entity_type)
        if method is None:
            return redaction_tag(entity_type)
        if entity_type == "AGE" and original.isdigit() and int(original) <= 89:
            return original  # ages up to 89 are not identifiers under Safe Harbor
        replacement = method(original, patient)
        if replacement is None or replacement.strip().lower() == original.strip().lower():
            return redaction_tag(entity_type)
        return replacement

    def _pick(self, pool: list[str], *parts: str) -> str:
        return pool[self._number(*parts) % len(pool)]

    def name_token(self, token: str, patient: str, taken: dict[str, str] | None = None) -> str:
        """Surrogate for one name token, distinct from surrogates already `taken` by others.

        `taken` maps surrogate -> original (lower case) within one text. Without it, two names
        of one patient could draw the same surrogate from the pool, and the mapping back to the
        originals would be ambiguous.
        """
        taken = {} if taken is None else taken
        original = token.lower()
        surrogate = self._pick(NAME_POOL, "name", patient, original)
        for attempt in range(len(NAME_POOL)):
            candidate = self._pick(NAME_POOL, "name", patient, original, str(attempt))
            surrogate = candidate if attempt else surrogate
            key = surrogate.lower()
            if key != original and taken.get(key, original) == original:
                break
        taken[surrogate.lower()] = original
        if token.isupper() and len(token) > 1:
            return surrogate.upper()
        return surrogate

    def _person(
        self, original: str, patient: str, taken: dict[str, str] | None = None
    ) -> str | None:
        def replace(match: re.Match[str]) -> str:
            token = match.group(0)
            if token.lower().rstrip(".") in TITLES:
                return token
            if len(token) == 1:
                return self._pick(NAME_POOL, "initial", patient, token.lower())[0]
            return self.name_token(token, patient, taken)

        replaced = NAME_TOKEN.sub(replace, original)
        return replaced if replaced != original else None

    def _location(self, original: str, patient: str) -> str:
        surrogate = self._pick(CITY_POOL, "location", patient, original.lower())
        return surrogate.upper() if original.isupper() else surrogate

    def _digits(self, original: str, patient: str) -> str:
        stream = self._digest("digits", patient, re.sub(r"\D", "", original)).hex()
        digits = iter(str(int(stream, 16)))
        return re.sub(r"\d", lambda _: next(digits), original)

    def _email(self, original: str, patient: str) -> str:
        local = self._pick(NAME_POOL, "email", patient, original.lower()).lower()
        return f"{local}{self._number('email-n', patient, original.lower()) % 1000}@example.org"

    def _age(self, original: str, patient: str) -> str | None:
        try:
            return original if int(original) <= 89 else "90+"
        except ValueError:
            return None

    def _date(self, original: str, patient: str) -> str | None:
        text = re.sub(r"(?<=\d)(st|nd|rd|th)\b", "", original.strip().replace(" of ", " "))
        for parse_format, output_format in DATE_FORMATS:
            try:
                parsed = datetime.strptime(text, parse_format)
            except ValueError:
                continue
            has_year = "%Y" in parse_format or "%y" in parse_format
            # A date with no year is shifted within a leap year so that Feb 29 stays valid.
            anchor = parsed if has_year else parsed.replace(year=2000)
            shifted: date = anchor + timedelta(days=self.date_shift_days(patient))
            result = shifted.strftime(output_format)
            return result.upper() if original.isupper() else result
        return None
