"""Street addresses (a house number, up to three name words and a street type) and towns before
a US state code and a ZIP code ("Elmford, WI 53809").

"27 Alder St.", "4410 OLD MILL RD", "12 Elm Street". A clinical word, a unit or a stop word
among the name words makes it an order or a count instead ("10 UNITS REG INSULIN ST").
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern
from spacy.lang.en.stop_words import STOP_WORDS as SPACY_STOP_WORDS

from deidentify.lexicons import WORD, clinical_words, is_misspelling
from deidentify.recognizers.results import CasedPatternRecognizer

STREET_TYPE = (
    r"(?i:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|"
    r"terrace|ter|parkway|pkwy|highway|hwy|circle|cir|square|sq)"
)
NAME_WORD = r"[A-Z][A-Za-z'\-]+"
# Above spaCy's 0.85, so that a house number and a street type win over spaCy's person type.
SCORE = 0.9
STATE_CODES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|"
    "NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR"
)
SPELLED_OUT = frozenset(
    {"street", "avenue", "road", "boulevard", "lane", "drive", "court", "way", "place",
     "terrace", "parkway", "highway", "circle", "square"}
)  # fmt: skip
# Words after a number that make it a count, not a house number.
NOT_STREET_NAMES = frozenset(
    {"unit", "units", "tab", "tabs", "dose", "doses", "times", "hours", "hrs", "minutes",
     "mins", "days", "weeks", "puffs", "drops", "amps", "bags", "liters", "litres"}
    | {word.lower() for word in SPACY_STOP_WORDS}
)  # fmt: skip


class StreetAddressRecognizer(CasedPatternRecognizer):
    """Detect a street address (entity `LOCATION`)."""

    ENTITY = "LOCATION"
    PATTERNS = [
        Pattern(
            "street_address",
            rf"\b\d{{1,5}}\s(?:{NAME_WORD}\s){{1,3}}{STREET_TYPE}\b\.?",
            SCORE,
        ),
        # A town before a US state's postal code and a ZIP code ("Elmford, WI 53809").
        Pattern(
            "town_before_state",
            rf"\b[A-Z][A-Za-z'\-]+(?:\s[A-Z][A-Za-z'\-]+)?(?=,\s(?:{STATE_CODES})\s\d{{5}}\b)",
            SCORE,
        ),
    ]

    def invalidate_result(self, pattern_text: str) -> bool | None:
        # An order or a measurement has a clinical word or a unit where a street has its name.
        words = WORD.findall(pattern_text)
        if not re.match(r"\d", pattern_text):
            return None  # a town before a state and ZIP code
        lowered = [word.lower() for word in words[:-1]]
        if any(word in clinical_words() or word in NOT_STREET_NAMES for word in lowered):
            return True
        if not pattern_text.isupper():
            return None
        # In capitals "ST" and "CT" are also sinus tachycardia and a chest tube, so an
        # abbreviated street type needs its period there ("2 ALDER ST."), and a misspelled
        # word ("3 EPSIODES ST") is no street name.
        abbreviated = words[-1].lower() not in SPELLED_OUT
        if abbreviated and not pattern_text.endswith("."):
            return True
        return any(is_misspelling(word) for word in lowered)
