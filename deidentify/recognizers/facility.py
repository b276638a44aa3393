"""Hospitals, rehabilitation centres and other facilities named by their kind.

"Holy Cross Hospital", "BALTIMORE REHAB", "Brixworth Assisted Living". Up to three capitalized
words before a facility word form the location; the facility word is included in the span.
"""

import re

from presidio_analyzer import Pattern, PatternRecognizer

FACILITY = (
    r"(?i:hospital|hosp|medical center|med center|rehab|rehabilitation(?: center)?|clinic|"
    r"nursing home|assisted living|health center|healthcare|infirmary|hospice|"
    r"care center|nursing facility)"
)
# A capitalized word that is not a preposition or article ("PLACEMENT AT BALTIMORE REHAB" must
# yield "BALTIMORE REHAB" in upper-case notes).
WORD = (
    r"(?!(?i:at|to|from|the|in|of|and|or|for|with|by|on|placement|transfer)\b)[A-Z][A-Za-z'\.\-]+"
)


class FacilityRecognizer(PatternRecognizer):
    """Detect named facilities (entity `LOCATION`)."""

    ENTITY = "LOCATION"
    PATTERNS = [
        Pattern("named_facility", rf"\b{WORD}(?:\s{WORD}){{0,2}}\s{FACILITY}\b", 0.6),
    ]

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            global_regex_flags=re.DOTALL | re.MULTILINE,
            name="FacilityRecognizer",
        )
