"""Surrogate values for detected PHI, consistent per patient and derived from a keyed HMAC.

Every surrogate is a deterministic function of (HMAC key, patient pseudonym, entity type, the
normalized original), so the same patient gets the same replacement in every note without any
stored state. Names are replaced token by token ("John Smith" and "Mr. Smith" share the surrogate
for "Smith"). Dates move by a per-patient shift, which preserves the intervals between that
patient's dates. ZIP codes keep only what HIPAA Safe Harbor allows (see `zipcode.py`). When a
value cannot be transformed safely (an unparseable date, an unknown entity type, a name pool with
no free surrogate left) the surrogate is a redaction tag, never the original.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

from deidentify.addresses import (
    DIRECTIONS,
    STREET_PREFIXES,
    STREET_SUFFIXES,
    STREET_TYPES,
    UNIT_WORDS,
)
from deidentify.registry import NameRegistry, RegistryError
from deidentify.zipcode import is_zip_code, safe_harbor_zip


def _read_name_pool() -> list[str]:
    path = Path(__file__).parent / "data" / "surrogate_names.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


# About 3,000 names (data/surrogate_names.txt): two names of one patient draw the same surrogate
# with a probability of about 1 in 3,000, and then the second takes its next candidate. Corpus
# and FHIR runs keep that choice per patient in a register (`deidentify/registry.py`).
NAME_POOL = _read_name_pool()
NAME_POOL_SET = frozenset(NAME_POOL)
CITY_POOL = [
    "Ashford", "Brookfield", "Cedar Grove", "Dalton", "Easton", "Glenwood", "Hillcrest", "Kingston",
    "Maplewood", "Northfield", "Oak Ridge", "Pinehurst", "Redmond", "Stonebridge", "Westbury",
]  # fmt: skip
# Street names for address surrogates ("27 Alder St." may become "418 Sorrel St.").
STREET_POOL = [
    "Acorn", "Bramble", "Clover", "Driftwood", "Fernhill", "Foxglove", "Heather", "Holly",
    "Juniper", "Lilac", "Meadowlark", "Orchard", "Primrose", "Quarry", "Rosewood", "Sorrel",
    "Thistle", "Vine", "Wildflower", "Yarrow",
]  # fmt: skip
# Words of an address that tell what kind of place it is and stay as written ("St.", "Apt").
ADDRESS_KIND_WORDS = STREET_TYPES | DIRECTIONS | UNIT_WORDS | STREET_PREFIXES
# Draws of a code surrogate before a code that keeps coming back as itself is redacted.
CODE_ATTEMPTS = 8
# The words and numbers of an address ("Höfðagata", "221B", "12-14").
ADDRESS_WORD = re.compile(r"[^\W_]+(?:['\-][^\W_]+)*")
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
    "HEALTH_PLAN_NUMBER": "[PLAN-ID]",
    "ACCOUNT_NUMBER": "[ACCOUNT]",
    "LICENSE_NUMBER": "[LICENSE]",
    "VEHICLE_ID": "[VEHICLE]",
    "DEVICE_ID": "[DEVICE]",
    "ID_NUMBER": "[ID]",
    "AGE": "90+",
}
# A word of a name in any script ("Núñez", "Zoë"), so no letter of it outlives its surrogate.
NAME_TOKEN = re.compile(r"[^\W\d_](?:[^\W\d_]|['\-])*")
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
TITLES = {"mr", "mrs", "ms", "miss", "dr", "doctor", "prof", "sir", "madam"}
# Entity types whose values are identifiers made of digits: surrogates and pseudonyms depend on
# the digits only, so "MRN 4417283" and "mrn: 4417283" are the same value.
DIGIT_ENTITIES = {"PHONE_NUMBER", "MEDICAL_RECORD_NUMBER", "US_SSN", "CREDIT_CARD"}
# Entity types whose values are codes of letters and digits ("XKH4471920", "S530-4417-2291"):
# surrogates keep the layout, and "xkh 4471920" is the same value as "XKH-4471920".
CODE_ENTITIES = {
    "HEALTH_PLAN_NUMBER", "ACCOUNT_NUMBER", "LICENSE_NUMBER", "VEHICLE_ID", "DEVICE_ID",
    "ID_NUMBER",
}  # fmt: skip
# Hex characters in a keyed pseudonym token: 24 bits, so two values of one patient share a token
# with probability about 1 in 16 million, and the vault drops a shared token from the mapping.
PSEUDONYM_HEX_CHARS = 6


def pool_fingerprint() -> str:
    """Return a short SHA-256 of the name, town and letter pools that surrogates are drawn from.

    A run resumed under other pools would give one patient two sets of surrogates.
    """
    pools = "\x1f".join(
        ["\n".join(NAME_POOL), "\n".join(CITY_POOL), LETTERS, "\n".join(STREET_POOL)]
    )
    return hashlib.sha256(pools.encode("utf-8")).hexdigest()[:16]


def redaction_tag(entity_type: str) -> str:
    return REDACTION_TAGS.get(entity_type, f"[{entity_type}]")


def pseudonym_label(entity_type: str) -> str:
    """Label inside a pseudonym token: the redaction tag's name ("NAME"), else the entity type."""
    tag = redaction_tag(entity_type)
    return tag[1:-1] if tag.startswith("[") and tag.endswith("]") else entity_type


def normalize_value(entity_type: str, original: str) -> str:
    """Canonical form of a PHI value, so spelling variants of one value share a pseudonym.

    Names drop titles and case ("Mr. SMITH" -> "smith"), digit identifiers and ZIP codes keep
    their digits, parseable dates become ISO dates, and anything else is case-folded with its
    whitespace collapsed.
    """
    if entity_type == "PERSON":
        tokens = [t.casefold() for t in NAME_TOKEN.findall(original) if t.lower() not in TITLES]
        if tokens:
            return " ".join(tokens)
    if entity_type in CODE_ENTITIES:
        code = re.sub(r"[^0-9a-z]", "", original.casefold())
        if code:
            return code
    if entity_type in DIGIT_ENTITIES or (entity_type == "LOCATION" and is_zip_code(original)):
        digits = re.sub(r"\D", "", original)
        if digits:
            return digits
    if entity_type == "DATE":
        parsed = parse_date(original)
        if parsed is not None:
            value, output_format = parsed
            return value.strftime("%Y-%m-%d" if has_year(output_format) else "--%m-%d")
    return " ".join(original.casefold().split())


def parse_date(original: str) -> tuple[datetime, str] | None:
    """Parse a date in one of DATE_FORMATS; returns the value and its output format."""
    text = re.sub(r"(?<=\d)(st|nd|rd|th)\b", "", original.strip().replace(" of ", " "))
    for parse_format, output_format in DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, parse_format)
        except ValueError:
            continue
        return parsed, output_format
    return None


def has_year(date_format: str) -> bool:
    return "%Y" in date_format or "%y" in date_format


class SurrogateGenerator:
    """Produce surrogates for one HMAC key."""

    def __init__(self, hmac_key: bytes, registry: NameRegistry | None = None) -> None:
        self._key = hmac_key
        # With a register, a name keeps its surrogate across texts (see `deidentify.registry`).
        self.registry = registry
        # The pseudonym that all texts without a patient id share.
        self._no_patient = self.pseudonym("")

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

    def pseudonym_token(self, entity_type: str, original: str, patient: str) -> str:
        """Keyed token for a PHI value, such as "[NAME-3F9A2C]".

        The token is an HMAC of the patient pseudonym, the entity type and the normalized value,
        so it is stable for one patient across notes, differs between patients, and cannot be
        recomputed from the value without the key.
        """
        value = normalize_value(entity_type, original)
        digest = self._digest("pseudonym", patient, entity_type, value).hex()
        return f"[{pseudonym_label(entity_type)}-{digest[:PSEUDONYM_HEX_CHARS].upper()}]"

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
            **dict.fromkeys(CODE_ENTITIES, self._code),
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

    def name_token(
        self, token: str, patient: str, taken: dict[str, str] | None = None
    ) -> str | None:
        """Surrogate for one name token, distinct from surrogates already `taken` by others.

        `taken` maps surrogate -> original (lower case) within one text. Without it, two names
        of one patient could draw the same surrogate from the pool, and the mapping back to the
        originals would be ambiguous. Returns None when the pool has run out, which means that
        every pool name is the token itself or taken by another name in the text. The caller
        then redacts the name.
        """
        taken = {} if taken is None else taken
        original = token.lower()
        if self.registry is not None and patient != self._no_patient:
            # Texts without a patient id share one pseudonym, so they skip the register.
            surrogate = self._registered_name(self.registry, original, patient, taken)
        else:
            surrogate = next(
                (
                    candidate
                    for candidate in self._name_candidates(patient, original)
                    if candidate.lower() != original
                    and taken.get(candidate.lower(), original) == original
                ),
                None,
            )
        if surrogate is None:
            return None
        taken[surrogate.lower()] = original
        if token.isupper() and len(token) > 1:
            return surrogate.upper()
        return surrogate

    def _registered_name(
        self, registry: NameRegistry, original: str, patient: str, taken: dict[str, str]
    ) -> str | None:
        """Return the surrogate that `registry` has for `original`, claiming one if it has none.

        A candidate that the register gives to another name of the patient is skipped, so the
        choice no longer depends on which names share a text.
        """
        digest = self._digest("name-register", patient, original).hex()[:32]
        known = registry.lookup(patient, digest)
        if known is not None:
            valid = known in NAME_POOL_SET and known.lower() != original
            if not valid or taken.get(known.lower(), original) != original:
                # A row that no draw could give: the file was edited or damaged.
                raise RegistryError(
                    f"name register {registry.path} contains an invalid surrogate that medsum "
                    "cannot have written; restore the file from a backup, or de-identify into a "
                    "new output directory"
                )
            return known
        for candidate in self._name_candidates(patient, original):
            if candidate.lower() == original or taken.get(candidate.lower(), original) != original:
                continue
            if registry.is_claimed(patient, candidate):
                continue
            claimed = registry.claim(patient, digest, candidate)
            if claimed is not None:
                return claimed
        return None

    def _name_candidates(self, patient: str, original: str) -> Iterator[str]:
        """Keyed draws from NAME_POOL, then every pool name from a keyed starting point.

        The draws alone could miss a free name by chance; the scan makes "no candidate" mean
        that the pool has really run out.
        """
        yield self._pick(NAME_POOL, "name", patient, original)
        for attempt in range(1, len(NAME_POOL)):
            yield self._pick(NAME_POOL, "name", patient, original, str(attempt))
        start = self._number("name-scan", patient, original) % len(NAME_POOL)
        for offset in range(len(NAME_POOL)):
            yield NAME_POOL[(start + offset) % len(NAME_POOL)]

    def _initial(self, token: str, patient: str) -> str:
        """Surrogate initial, never the original letter."""
        letter = self._pick(NAME_POOL, "initial", patient, token.lower())[0]
        if letter.lower() == token.lower():
            others = sorted({name[0] for name in NAME_POOL} - {token.upper()})
            letter = others[self._number("initial-other", patient, token.lower()) % len(others)]
        return letter

    def _person(
        self, original: str, patient: str, taken: dict[str, str] | None = None
    ) -> str | None:
        pool_ran_out = False

        def replace(match: re.Match[str]) -> str:
            nonlocal pool_ran_out
            token = match.group(0)
            if token.lower().rstrip(".") in TITLES:
                return token
            if len(token) == 1:
                return self._initial(token, patient)
            surrogate = self.name_token(token, patient, taken)
            if surrogate is None:
                pool_ran_out = True
                return token
            return surrogate

        replaced = NAME_TOKEN.sub(replace, original)
        return None if pool_ran_out or replaced == original else replaced

    def _location(self, original: str, patient: str) -> str:
        if is_zip_code(original):
            return safe_harbor_zip(original)
        if any(char.isdigit() for char in original):
            return self._address(original, patient)
        surrogate = self._pick(CITY_POOL, "location", patient, original.lower())
        return surrogate.upper() if original.isupper() else surrogate

    def _address(self, original: str, patient: str) -> str:
        """Return an address of the same layout: keyed numbers, surrogate street names.

        The street type at the end or the start, unit and box labels, and a direction before a
        name word stay ("27 Alder St., Apt 4B" may become "418 Sorrel St., Apt 7K"). A European
        street keeps its suffix ("Elmfordstrasse 12" may become "Thistlestrasse 85"). Every
        number, letter and other word is replaced, so "12 Grove Street" loses "Grove" too.
        """
        tokens = list(ADDRESS_WORD.finditer(original))
        words = [index for index, match in enumerate(tokens) if match.group(0).isalpha()]
        labels = {
            index
            for position, index in enumerate(words)
            if self._is_address_label(tokens, words, position)
        }

        def replace(index: int, match: re.Match[str]) -> str:
            token = match.group(0)
            if index in labels:
                return token
            if token.isdigit():
                return self._house_number(token, patient)
            lower = token.lower()
            short_code = len(token) <= 3 and token.isupper() and not set(token) & set("AEIOUY")
            if short_code or any(char.isdigit() for char in token):
                # "4B", "12-14", "B0J", "SL": every letter and digit, in the same layout, and
                # another draw where the first gives the token back.
                for attempt in range(CODE_ATTEMPTS):
                    code = self._code(token, patient + "\x1f" * attempt)
                    if code != token:
                        return code
                return redaction_tag("LOCATION")
            suffix = next((end for end in STREET_SUFFIXES if lower.endswith(end)), "")
            name = self._street_name(lower.removesuffix(suffix), patient)
            if suffix:
                name = name + token[len(token) - len(suffix) :]
            return name.upper() if token.isupper() else name

        pieces = []
        cursor = 0
        for index, match in enumerate(tokens):
            pieces.append(original[cursor : match.start()])
            pieces.append(replace(index, match))
            cursor = match.end()
        pieces.append(original[cursor:])
        return "".join(pieces)

    @staticmethod
    def _is_address_label(tokens: list[re.Match[str]], words: list[int], position: int) -> bool:
        """Return whether the word at `position` of an address is a label that the surrogate keeps.

        Those are unit and box labels anywhere, a street type written first ("Via") or last, or
        last before a unit label ("St" in "27 Alder St., Apt 4B"), and a direction before a word
        that is no street type ("N Alder St", not "North Heights").
        """
        lower = tokens[words[position]].group(0).lower()
        if lower in UNIT_WORDS:
            return True
        if lower not in ADDRESS_KIND_WORDS:
            return False
        following = [tokens[i].group(0).lower() for i in words[position + 1 :]]
        if lower in DIRECTIONS:
            return bool(following) and following[0] not in ADDRESS_KIND_WORDS
        if lower in STREET_PREFIXES:
            return position == 0  # "Via Elmford 71", "ul. Brixa 53"
        # The last word, or the last before a unit label: "27 Alder St.", "27 Alder St., Apt 4B".
        return not following or following[0] in UNIT_WORDS

    def _house_number(self, number: str, patient: str) -> str:
        """Return keyed digits for a house or unit number, never the number itself.

        The digits depend on the number alone, so "27 Alder St." and "27 Alder Street" of one
        patient keep one house number.
        """
        digits = self._digit_stream(patient, "address-number:" + number)
        surrogate = "".join(next(digits) for _ in number)
        if surrogate == number:
            # Shift the last digit, so a one-digit number cannot stay as it was.
            surrogate = surrogate[:-1] + str((int(surrogate[-1]) + 1) % 10)
        return surrogate

    def _street_name(self, original: str, patient: str) -> str:
        """Return a surrogate street name that differs from `original`."""
        index = self._number("street", patient, original) % len(STREET_POOL)
        name = STREET_POOL[index]
        if name.lower() == original:
            name = STREET_POOL[(index + 1) % len(STREET_POOL)]
        return name

    def _digits(self, original: str, patient: str) -> str:
        digits = self._digit_stream(patient, re.sub(r"\D", "", original))
        return re.sub(r"\d", lambda _: next(digits), original)

    def _code(self, original: str, patient: str) -> str:
        """Return keyed letters and digits in the layout and letter case of `original`."""
        value = normalize_value("ID_NUMBER", original)
        digits = self._digit_stream(patient, value)
        # Two keyed digits pick each letter. LETTERS lacks I and O, which read as 1 and 0.
        letter_digits = self._digit_stream(patient, "letters:" + value)

        def replace(match: re.Match[str]) -> str:
            char = match.group(0)
            if char.isdigit() or not char.isalpha():
                return next(digits)
            number = int(next(letter_digits) + next(letter_digits))
            letter = LETTERS[number % len(LETTERS)]
            return letter if char.isupper() else letter.lower()

        # Every letter and digit, full-width ones (U+FF14) too, is replaced.
        return re.sub(r"[^\W_]", replace, original)

    def _digit_stream(self, patient: str, value: str) -> Iterator[str]:
        """Keyed decimal digits without end; one HMAC gives about 77 of them."""
        parts = ["digits", patient, value]
        block = 0
        while True:
            yield from str(int(self._digest(*parts).hex(), 16))
            block += 1
            parts = ["digits", patient, value, str(block)]

    def _email(self, original: str, patient: str) -> str:
        local = self._pick(NAME_POOL, "email", patient, original.lower()).lower()
        return f"{local}{self._number('email-n', patient, original.lower()) % 1000}@example.org"

    def _age(self, original: str, patient: str) -> str | None:
        try:
            return original if int(original) <= 89 else "90+"
        except ValueError:
            return None

    def _date(self, original: str, patient: str) -> str | None:
        parsed = parse_date(original)
        if parsed is None:
            return None
        value, output_format = parsed
        # A date with no year is shifted within a leap year so that Feb 29 stays valid.
        anchor = value if has_year(output_format) else value.replace(year=2000)
        try:
            shifted: date = anchor + timedelta(days=self.date_shift_days(patient))
        except OverflowError:
            return None  # a placeholder such as 12/31/9999 shifted past year 1 or 9999

        result = shifted.strftime(output_format)
        return result.upper() if original.isupper() else result
