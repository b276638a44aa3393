"""Dates with a day or month element: numeric (03/14/2021, 2021-03-14, 3/14) and written forms.

Safe Harbor allows the year alone, so a bare year is not matched. Durations ("two days") are not
dates either, which is why medsum uses this recognizer instead of spaCy's DATE label.
"""

import re

from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)

# Characters before a month/day match searched for the cues below.
RATIO_CONTEXT_CHARS = 25
VENTILATOR_SETTING = re.compile(
    r"(?i)\b(?:cpap|bi-?pap|psv?|peep|imv|simv|vent|ventilator|flow-?by|settings|"
    r"pressure support)\b[^A-Za-z\n]{0,8}\Z"
)
PAIN_SCORE = re.compile(r"(?i)\b(?:pain|rates?|rated|rating|scale|score)\b\D{0,12}\Z")
DATE_CUE = re.compile(r"(?i)\b(?:on|since|until|date|dated|from)\s*:?\s*\Z")
# "1/2", "2/3" and "3/4" are read as fractions; "1/5" and beyond as dates.
MAX_FRACTION_DENOMINATOR = 4


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
            # Neither after a one-digit whole number ("1 1/2 hours") nor before letters ("1/2ns").
            "date_md",
            r"(?<![\d/.])(?<!(?<!\d)\d )(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])"
            r"(?![\d/%A-Za-z])",
            0.5,
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

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        return [result for result in results if not self._is_ratio(text, result)]

    @staticmethod
    def _is_ratio(text: str, result: RecognizerResult) -> bool:
        """Return whether a month/day match is a ratio that notes write the same way.

        Those are ventilator settings ("CPAP 5/5", "PSV 10/5"), pain scores ("pain 6/10") and
        fractions ("1/2 NS", "3/4 up"). A fraction still counts as a date after a date word
        ("on 1/2").
        """
        explanation = result.analysis_explanation
        if explanation is None or explanation.pattern_name != "date_md":
            return False
        before = text[max(0, result.start - RATIO_CONTEXT_CHARS) : result.start]
        if VENTILATOR_SETTING.search(before) or PAIN_SCORE.search(before):
            return True
        month, day = (int(part) for part in text[result.start : result.end].split("/"))
        return month < day <= MAX_FRACTION_DENOMINATOR and not DATE_CUE.search(before)
