"""URLs with a scheme or a `www.` prefix.

Presidio's URL recognizer also accepts bare `word.tld` shapes. In nursing notes those match
sentence joins without a space ("SHIFT.PR", "WELL.SE"), while a real URL in a clinical note
almost always carries a scheme or `www.`.
"""

import re

from presidio_analyzer import Pattern, PatternRecognizer


class StrictUrlRecognizer(PatternRecognizer):
    """Detect URLs that start with a scheme or `www.` (entity `URL`)."""

    ENTITY = "URL"
    PATTERNS = [
        Pattern("url_scheme", r"\b(?:https?|ftp)://[^\s<>\"']+", 0.9),
        Pattern("url_www", r"\bwww\.[a-z0-9\-]+(?:\.[a-z0-9\-]+)+(?:/[^\s<>\"']*)?", 0.8),
    ]

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            global_regex_flags=re.IGNORECASE,
            name="StrictUrlRecognizer",
        )
