"""Places of residence or origin named after "live in", "from", "moved to" and similar phrases."""

import re

from presidio_analyzer import Pattern, PatternRecognizer

PLACE = r"[A-Z][a-zA-Z'\-]+(?:\s+[A-Z][a-zA-Z'\-]+){0,2}"


class ResidenceLocationRecognizer(PatternRecognizer):
    """Detect towns and cities after residence phrases (entity `LOCATION`)."""

    ENTITY = "LOCATION"
    PATTERNS = [
        Pattern(
            "residence_phrase",
            rf"(?<=\blive in\s){PLACE}|(?<=\blive over in\s){PLACE}|(?<=\blives in\s){PLACE}|"
            rf"(?<=\bmoved to\s){PLACE}|(?<=\bmoved here from\s){PLACE}|(?<=\bresides in\s){PLACE}",
            0.6,
        ),
    ]

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            # Case matters here: a name or place starts with a capital letter.
            global_regex_flags=re.DOTALL | re.MULTILINE,
            name="ResidenceLocationRecognizer",
        )
