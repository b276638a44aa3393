"""Dates with a day or month element: numeric (03/14/2021, 2021-03-14, 3/14) and written forms.

Safe Harbor allows the year alone, so a bare number that could be a year is not matched. A year
written as one ("CABG '07") or introduced as one ("in 2004") is: next to shifted dates an
unshifted year gives the shift away. Durations ("two days") are not
dates either, which is why medsum uses this recognizer instead of spaCy's DATE label.
"""

import re

from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)

# Events of a medical history that notes follow with the year they happened.
HISTORY_EVENT = (
    r"(?i:cabg|redo cabg|mi|nstemi|stemi|cva|tia|avr|mvr|tvr|pci|ptca|stent|ppm|aicd|icd|"
    r"tah|bso|tah/bso|appy|chole|ccy|turp|ca|cancer|dx|diagnosed|fx|dvt|pe|lap|"
    r"hysterectomy|mastectomy|lumpectomy|nephrectomy|colectomy|lobectomy|thyroidectomy)"
)
# A two-digit year after a comma, where a time, a sentence end or the end of the line follows
# ("14 Mar, 19 0700"). Elsewhere two digits after a date are as often a dose or a count.
SHORT_YEAR = r",\s?\d{2}(?=\s+\d{4}\b|[ \t]*\r?$|[.;](?:\s|$))"
# Characters before a month/day match searched for the cues below.
RATIO_CONTEXT_CHARS = 25
VENTILATOR_SETTING = re.compile(
    r"(?i)\b(?:cpap|bi-?pap|psv?|peep|imv|simv|vent|ventilator|flow-?by|settings|"
    r"pressure support)\b[^A-Za-z\n]{0,8}\Z"
)
PAIN_SCORE = re.compile(r"(?i)\b(?:pain|rates?|rated|rating|scale|score)\b\D{0,12}\Z")
DATE_CUE = re.compile(r"(?i)\b(?:on|since|until|date|dated|from)\s*:?\s*\Z")
# Words, or a date and a dash, that make even "5/5" or "6/10" a date ("8/2 - 8/10").
STRONG_DATE_CUE = re.compile(
    r"(?i)(?:\b(?:since|until|date|dated|admitted|discharged|transferred|dob|post|s/p|pod)"
    r"\s*:?\s*|\b\d{1,2}/\d{1,2}\s?-\s?)\Z"
)
# Words after a ratio that never follow a date: units and fluids ("1/4 NS", "1/5 liters"), murmur
# grades ("3/6 SEM"), counts ("4/4 bottles"), percentages and decimal chains ("6/2.8/698").
RATIO_AFTER = re.compile(
    r"(?i)\A(?:\s?%|\.\d|\s*(?:ns|d5w|lr|l|liters?|litres?|cc|ml|bottles?|sets?|sem|hsm|"
    r"murmur|systolic|diastolic|strength|tabs?|fio2|peep|ps|bipap|cpap|pain|cp|angina)\b)"
)
# A score out of ten ("6/10 pain", "#4/10"), the commonest ratio with a month-like shape.
SCORE_DENOMINATOR = 10
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
        # A two-digit year after a decimal point, a slip of the key next to "/" ("11/21.93").
        # Not a decimal with one or three digits ("1/2.5", "5/5.125").
        Pattern(
            "date_mdy_dotted",
            r"(?<![\d/.])(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])\.\d{2}(?![\d%]|[.,]\d|\s?%)",
            0.5,
        ),
        Pattern("date_iso", r"\b(?:19|20)\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])\b", 0.85),
        Pattern(
            # Neither after a one-digit whole number ("1 1/2 hours", but "stent x2 8/7" is a
            # date) nor before letters ("1/2ns").
            "date_md",
            r"(?<![\d/.])(?<!(?<!\w)\d )(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])"
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
            rf"(?i)\b(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTHS}\b"
            rf"(?:,?\s+(?:19|20)\d{{2}}|{SHORT_YEAR})?",
            0.8,
        ),
        Pattern("date_month_year", rf"(?i)\b{MONTHS}\.?,?\s+(?:of\s+)?(?:19|20)\d{{2}}\b", 0.7),
        # Month and two-digit year ("fx 6/04", "s/p lobectomy 9/88"): a second part of 32 or
        # more cannot be a day. Letters may precede ("fx6/04"), digits and units may not follow.
        Pattern(
            "date_month_short_year",
            r"(?<![\d/.])(?:0?[1-9]|1[0-2])/[3-9]\d(?![\d/%]|\.\d|\s*%|\s?[A-Za-z])",
            0.5,
        ),
        # A year written with an apostrophe ("CABG '07", "MI'03"); not feet and inches (5'10").
        Pattern("year_apostrophe", r"(?<=[A-Za-z(\s,])'\d{2}\b(?!['\d])", 0.6),
        # A four-digit year after a word that introduces one ("in 2004", "since 2011"). Not a
        # clock time: "at 2000", "@ 1930" and "0700->1930" have other words before them.
        Pattern(
            "year_after_cue",
            r"(?<=\b(?i:in|of|since|year|yr|until|circa|it's|its|it\s+is)\s)(?:19[0-9]|20[0-4])\d\b"
            r"(?!\s?(?:->|-\s?\d|:\d|(?i:hrs?|h|hours?|ml|cc|kcal|mg|units?|l)\b))",
            0.5,
        ),
        # A year after an event of the medical history ("PMH: CABG 81, MI 2004,"), ended by a
        # comma, semicolon, period or line end: vital signs ("HR 81,") have other words.
        Pattern(
            "year_after_history_event",
            rf"(?<=\b{HISTORY_EVENT}\s)(?:(?:19|20)\d{{2}}|\d{{2}})(?=\s*(?:[,;]|\.(?!\d)|$))",
            0.5,
        ),
        # Month-day with a dash after "on" ("returned to OR on 7-8"), not a range of units.
        Pattern(
            "date_md_dash",
            r"(?<=\b(?i:on)\s)(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12]\d|3[01])"
            r"(?![\d/.-]|\s?(?i:l|lpm|liters?|mg|mcg|g|cc|ml|x|times|hrs?|hours?|days?|wks?)\b)",
            0.5,
        ),
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
        if explanation is None:
            return False
        before = text[max(0, result.start - RATIO_CONTEXT_CHARS) : result.start]
        after = text[result.end : result.end + RATIO_CONTEXT_CHARS]
        if explanation.pattern_name == "date_mdy":
            return RATIO_AFTER.match(after) is not None and "%" in after[:2]
        if explanation.pattern_name not in ("date_md", "date_month_short_year", "date_mdy_dotted"):
            return False
        if VENTILATOR_SETTING.search(before) or PAIN_SCORE.search(before):
            return True
        if RATIO_AFTER.match(after) or before.endswith("#"):
            return True
        if explanation.pattern_name == "date_month_short_year":
            return False
        month_day = text[result.start : result.end].split(".")[0]
        month, day = (int(part) for part in month_day.split("/"))
        score = day == SCORE_DENOMINATOR and month <= SCORE_DENOMINATOR
        if (month == day or score) and not STRONG_DATE_CUE.search(before):
            return True  # "5/5" (pressure support over PEEP, strength) and scores out of ten
        return month < day <= MAX_FRACTION_DENOMINATOR and not DATE_CUE.search(before)
