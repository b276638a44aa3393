"""Ages: "76-year-old", "aged 91", "age: 93", "94 yo", "92 years old".

Every age is detected so the decision trace records it, but only ages over 89 are identifiers
under Safe Harbor; the transformation step keeps ages up to 89 and writes "90+" for the rest.
"""

import re

from presidio_analyzer import Pattern, PatternRecognizer

AGE_NUMBER = re.compile(r"\d{1,3}")


class ClinicalAgeRecognizer(PatternRecognizer):
    """Detect stated ages (entity `AGE`); the matched span is the number only."""

    ENTITY = "AGE"
    PATTERNS = [
        Pattern("age_year_old", r"(?i)\b\d{1,3}(?=[- ](?:years?|yrs?|y/?o)\b)", 0.85),
        Pattern("age_aged", r"(?i)(?<=\bage\b:?\s)\d{1,3}\b|(?<=\baged\s)\d{1,3}\b", 0.85),
        Pattern("age_yo", r"(?i)\b\d{1,3}(?=\s?(?:yo|y\.o\.)\b)", 0.85),
    ]
    CONTEXT = ["age", "old", "aged", "yo"]

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            name="ClinicalAgeRecognizer",
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        # Ages above 125 are almost always measurements ("130 years" of pack-years do not occur).
        return int(pattern_text) <= 125
