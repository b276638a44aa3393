"""Person names signalled by a title or a self-introduction, which spaCy's small model misses.

"Dr. Okafor", "Doctor Vance", "Mrs. Lindqvist", "my name is Sven Mbeki", "it's Tomasz Okafor",
and signature lines ending in a credential ("s. roberto rrt"). The span covers the name only,
never the title or credential.
"""

import re

from presidio_analyzer import Pattern, PatternRecognizer

from deidentify.lexicons import WORD, is_name_or_unknown

CAPITALIZED = r"[A-Z][a-zA-Z'\-]+"
# A second name token must be in title case: in upper-case notes the word after a name is as
# likely to be "AWARE" as a surname, so "DR. HARTWELL AWARE" yields "HARTWELL" only.
NAME = rf"{CAPITALIZED}(?:\s+[A-Z][a-z][a-zA-Z'\-]*)?"
# Titles in any letter case; Presidio compiles patterns with the `regex` module, which allows
# the variable-width look-behind used below.
TITLE = r"(?:(?i:dr|mr|mrs|ms|mx|prof)\.?|(?i:doctor|miss))"


class TitledNameRecognizer(PatternRecognizer):
    """Detect names after titles and introductions (entity `PERSON`).

    The scores sit above spaCy's 0.85 so that, where spaCy labels the same words a LOCATION,
    the title or introduction decides the type.
    """

    ENTITY = "PERSON"
    PATTERNS = [
        Pattern(
            "name_after_title",
            rf"(?<=\b{TITLE}\s){NAME}",
            0.9,
        ),
        # An initial used as the name ("Doctor X", "Mr. K."), as in notes that shorten names.
        Pattern("initial_after_title", rf"(?<=\b{TITLE}\s)[A-Z]\b(?!['\-]|\.\w)", 0.6),
        Pattern(
            "name_introduction",
            rf"(?<=\b[Mm]y name is\s){NAME}|(?<=\b[Ii]t's\s){NAME}(?=[.,])|"
            rf"(?<=\b[Tt]his is\s){NAME}(?=[.,])",
            0.9,
        ),
        # Informal notes write "dr. mahn" or "dr.ayoub"; a stop word after "dr" is dropped later.
        # "dr" must end in a period or a space, or "drink" would yield "ink".
        Pattern("name_after_dr_any_case", r"(?<=\b(?i:dr)(?:\.\s?|\s))[A-Za-z][a-z'\-]{2,}\b", 0.6),
        # A signature line: a name, then a credential at the end of the line ("s. roberto rrt").
        Pattern(
            "name_before_credential",
            r"\b[A-Za-z][A-Za-z'\-]*\.?(?:\s[A-Za-z][A-Za-z'\-]+)?"
            r"(?=,?\s(?i:rn|rrt|md|np|lpn|cna|msw|pa-c)\.?[ \t]*$)",
            0.6,
        ),
    ]

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            # Case matters here: a name or place starts with a capital letter.
            global_regex_flags=re.DOTALL | re.MULTILINE,
            name="TitledNameRecognizer",
        )

    def invalidate_result(self, pattern_text: str) -> bool | None:
        # Without letter case the word after the cue is as often a verb or a clinical word
        # ("WIFE CALLED", "DR. AWARE"), so each word but an initial must be a census name or a
        # word that is in no list.
        if pattern_text.isupper() or pattern_text.islower():
            words = [word for word in WORD.findall(pattern_text) if len(word) > 1]
            return not all(is_name_or_unknown(word) for word in words)
        return None
