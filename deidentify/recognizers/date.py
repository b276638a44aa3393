"""Dates with a day or month element: numeric (03/14/2021, 2021-03-14, 3/14) and written forms.

Safe Harbor allows the year alone, so a bare year is not matched. Durations ("two days") are not
dates either, which is why medsum uses this recognizer instead of spaCy's DATE label.
"""

from presidio_analyzer import Pattern, PatternRecognizer

MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)


class ClinicalDateRecognizer(PatternRecognizer):
    """Detect calendar dates (entity `DATE`)."""

    ENTITY = "DATE"
    PATTERNS = [
        Pattern(
            "date_mdy",
            r"\b(?:0?[1-9]|1[0-2])[/-](?:0?[1-9]|[12]\d|3[01])[/-](?:\d{4}|\d{2})\b",
            0.85,
        ),
        Pattern("date_iso", r"\b(?:19|20)\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])\b", 0.85),
        Pattern(
            "date_md", r"(?<![\d/.])(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])(?![\d/%])", 0.5
        ),
        Pattern(
            "date_month_day",
            rf"(?i)\b{MONTHS}\.?\s+(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?(?:,?\s+(?:19|20)\d{{2}})?\b",
            0.8,
        ),
        Pattern(
            "date_day_month",
            rf"(?i)\b(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTHS}\b(?:,?\s+(?:19|20)\d{{2}})?",
            0.8,
        ),
        Pattern("date_month_year", rf"(?i)\b{MONTHS}\.?,?\s+(?:19|20)\d{{2}}\b", 0.7),
    ]
    CONTEXT = ["date", "on", "seen", "admitted", "discharged", "dob", "born", "visit"]

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            name="ClinicalDateRecognizer",
        )
