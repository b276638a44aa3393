"""Street addresses: a house number, up to three name words and a street type.

"27 Alder St.", "4410 OLD MILL RD", "12 Elm Street". In uncased notes one of the name words
must be no English word, so "10 UNITS REG INSULIN ST" stays.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, PatternRecognizer

from deidentify.lexicons import WORD, clinical_words, is_english, is_misspelling

STREET_TYPE = (
    r"(?i:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|"
    r"terrace|ter|parkway|pkwy|highway|hwy|circle|cir|square|sq)"
)
NAME_WORD = r"[A-Z][A-Za-z'\-]+"


class StreetAddressRecognizer(PatternRecognizer):
    """Detect a street address (entity `LOCATION`)."""

    ENTITY = "LOCATION"
    PATTERNS = [
        Pattern(
            "street_address",
            rf"\b\d{{1,5}}\s(?:{NAME_WORD}\s){{1,3}}{STREET_TYPE}\b\.?",
            0.6,
        ),
    ]

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            global_regex_flags=re.DOTALL | re.MULTILINE,
            name="StreetAddressRecognizer",
        )

    def invalidate_result(self, pattern_text: str) -> bool | None:
        words = WORD.findall(pattern_text)[:-1]
        lowered = [word.lower() for word in words]
        if any(word in clinical_words() for word in lowered):
            return True
        if pattern_text.isupper():
            return all(is_english(word) or is_misspelling(word) for word in lowered)
        return None
