"""Names written as an initial and a surname: "J. Vance", "d. okafor", "N. HARTWELL".

Nurses sign and cite colleagues this way. The surname must be a census name or a word that is in
no list; organisms written the same way ("E. coli", "S. aureus") are clinical words and stay.
In uncased text the surname must also be no English word, because "R. HAND" is a side of the
body there.
"""

from __future__ import annotations

from presidio_analyzer import Pattern

from deidentify.lexicons import is_first_name, is_known_name, is_name_or_unknown, is_unknown_word
from deidentify.recognizers.results import CasedPatternRecognizer

# Just above spaCy's 0.85, so that where spaCy types "d. okafor" as a place, the initial wins.
SCORE = 0.86


class InitialNameRecognizer(CasedPatternRecognizer):
    """Detect an initial with a period followed by a surname (entity `PERSON`)."""

    ENTITY = "PERSON"
    PATTERNS = [
        Pattern(
            "initial_surname",
            r"(?<![\w.'+/&\-])[A-Za-z]\.\s?[A-Za-z][A-Za-z'\-]{2,}\b(?!\.\w)",
            SCORE,
        ),
    ]

    def invalidate_result(self, pattern_text: str) -> bool | None:
        surname = pattern_text[2:].strip()
        if not is_name_or_unknown(surname):
            return True
        if is_known_name(surname) or is_unknown_word(surname) or is_first_name(surname):
            return None  # "N. RUTH" is a name; "R. HAND" is a side of the body
        # A census name that is also a word counts only written as a name ("J. Smith").
        title_case = surname[0].isupper() and surname[1:].islower()
        return not (title_case and pattern_text[0].isupper())
