"""Person names signalled by a title or a self-introduction, which spaCy's small model misses.

"Dr. Okafor", "Doctor Vance", "Mrs. Lindqvist", "my name is Sven Mbeki", "it's Tomasz Okafor",
and signature lines ending in a credential ("s. roberto rrt"). The span covers the name only,
never the title or credential.
"""

from presidio_analyzer import Pattern, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from deidentify.lexicons import (
    WORD,
    is_first_name,
    is_known_name,
    is_misspelling,
    is_name_or_unknown,
    is_unknown_word,
    person_names,
)
from deidentify.recognizers.results import CasedPatternRecognizer

CAPITALIZED = r"[A-Z][a-zA-Z'\-]+"
# A second name token must be in title case: in upper-case notes the word after a name is as
# likely to be "AWARE" as a surname, so "DR. HARTWELL AWARE" yields "HARTWELL" only.
NAME = rf"{CAPITALIZED}(?:\s+[A-Z][a-z][a-zA-Z'\-]*)?"
# Titles in any letter case; Presidio compiles patterns with the `regex` module, which allows
# the variable-width look-behind used below.
TITLE = r"(?:(?i:drs?|mr|mrs|ms|mx|prof)(?:'?\.?\s|\.)|(?i:doctor|miss)\s)"
# Credentials written after a clinician's name ("N. Okafor NP", "Hartwell-Vance MD").
CREDENTIAL = r"(?i:md|do|np|pa|pa-c|rn|bsn|crnp|rrt|lpn|cna|msw|licsw|lcsw|pharmd)"
# Words after "PA" or "DO" that make it the pulmonary artery or a verb, not a credential.
NOT_AFTER_CREDENTIAL = (
    r"(?i:line|lines|cath|catheter|pressures?|numbers|port|systolic|diastolic|mean|wedge|"
    r"sat|sats|htn|not|so|you|this|that|it)\b"
)


CREDENTIAL_PATTERNS = ("name_before_credential", "name_before_inline_credential")
QUOTE_MARKS = frozenset("\"'\u201c\u2018")


class TitledNameRecognizer(CasedPatternRecognizer):
    """Detect names after titles and introductions (entity `PERSON`).

    The scores sit above spaCy's 0.85 so that, where spaCy labels the same words a LOCATION,
    the title or introduction decides the type.
    """

    ENTITY = "PERSON"
    PATTERNS = [
        Pattern(
            "name_after_title",
            rf"(?<=\b{TITLE}){NAME}",
            0.9,
        ),
        # An Irish "O" surname written with a space instead of the apostrophe ("Dr. o malley").
        Pattern("o_name_after_title", rf"(?<=\b{TITLE})[Oo]\s[A-Za-z][A-Za-z'\-]{{2,}}\b", 0.9),
        # An initial used as the name ("Doctor X", "Mr. K."), as in notes that shorten names.
        Pattern("initial_after_title", rf"(?<=\b{TITLE})[A-Z]\b(?!['\-]|\.\w)", 0.6),
        # The second of two clinicians after "Drs" ("Drs. Okafor and Vance").
        Pattern(
            "second_name_after_drs",
            r"(?<=\b(?i:drs)'?\.?\s[A-Za-z][A-Za-z'\-]+\s(?i:and|&)\s)[A-Za-z][A-Za-z'\-]+",
            0.6,
        ),
        # A name before a credential inside a line ("N. Okafor NP aware", "Vance MD plans").
        Pattern(
            "name_before_inline_credential",
            r"\b(?<!/)(?:[A-Za-z]\.?\s)?[A-Za-z][A-Za-z'\-]+(?:\s[A-Za-z][A-Za-z'\-]+)?"
            rf"(?=,?\s{CREDENTIAL}\b(?!\s?{NOT_AFTER_CREDENTIAL}))",
            0.5,
        ),
        Pattern(
            "name_introduction",
            rf"(?<=\b[Mm]y name is\s){NAME}|(?<=\b[Ii]t's\s){NAME}(?=[.,])|"
            rf"(?<=\b[Tt]his is\s){NAME}(?=[.,])",
            0.9,
        ),
        # Informal notes write "dr. mahn" or "dr.ayoub"; a stop word after "dr" is dropped later.
        # "dr" must end in a period or a space, or "drink" would yield "ink".
        Pattern("name_after_dr_any_case", r"(?<=\b(?i:dr)(?:\.\s?|\s))[A-Za-z][a-z'\-]{2,}\b", 0.6),
        # A person addressed at the start of quoted speech or after a greeting ('"Ruth, I know',
        # "Hi Ruth,"). The word must be a first name or a census name that is no English word, or
        # after a greeting also a word in no list.
        Pattern(
            "name_addressed",
            r"(?<=[\"'“‘]|\b(?i:hi|hello|hey|dear|thanks|thank you),?\s)[A-Z][a-z'\-]+"
            r"(?=\s?,)",
            0.6,
        ),
        # A signature line: a name, then a credential at the end of the line ("s. roberto rrt").
        Pattern(
            "name_before_credential",
            r"\b(?<!/)(?:[A-Za-z]\.?\s)?[A-Za-z][A-Za-z'\-]+(?:\s[A-Za-z][A-Za-z'\-]+)?"
            r"(?=,?\s(?i:rn|rrt|md|np|lpn|cna|msw|pa-c)\.?[ \t]*$)",
            0.6,
        ),
    ]

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        return [
            result
            for result in results
            if not self._is_weak_credential_match(text, result)
            and not self._is_weak_address(text, result)
        ]

    @staticmethod
    def _is_weak_address(text: str, result: RecognizerResult) -> bool:
        """Return whether an addressed word is no name ('"Okay, I know", "Hi Doctor,")."""
        explanation = result.analysis_explanation
        if explanation is None or explanation.pattern_name != "name_addressed":
            return False
        word = text[result.start : result.end]
        if is_known_name(word) or is_first_name(word):
            return False
        # After a greeting a word in no list is a name ("Hi Brixworth,"). After a quote mark it
        # is as often a word that the lists lack ('"Okay, I know').
        after_quote = text[result.start - 1 : result.start] in QUOTE_MARKS
        return after_quote or not is_unknown_word(word)

    @staticmethod
    def _is_weak_credential_match(text: str, result: RecognizerResult) -> bool:
        """Return whether a name before a credential has a word that is no name on its own.

        A credential is a weaker cue than a title ("wife MD", "Primray Care MD"). So each word
        must be a census name that is no English word, a word in no list, a first name, or a
        census name written as a name ("Vance PA").
        """
        explanation = result.analysis_explanation
        if explanation is None or explanation.pattern_name not in CREDENTIAL_PATTERNS:
            return False
        for word in WORD.findall(text, result.start, result.end):
            if len(word) < 2 or is_known_name(word) or is_unknown_word(word):
                continue
            if is_first_name(word):
                continue  # "mary o'hara np" in a lower-case note
            title_case = word[0].isupper() and word[1:].islower()
            if not (title_case and is_name_or_unknown(word)) or is_misspelling(word):
                return True
        return False

    def invalidate_result(self, pattern_text: str) -> bool | None:
        # The word after a title is as often a verb or a clinical word ("DR. AWARE", "monitor
        # MS. Restart", "done Improved per MD"), so each word but an initial must be a census
        # name or a word that is in no list.
        words = [word for word in WORD.findall(pattern_text) if len(word) > 1]
        return not all(is_name_or_unknown(word) or _is_titled_stop_word(word) for word in words)


def _is_titled_stop_word(word: str) -> bool:
    """Return whether `word` is a census name that is a stop word, written as a name ("Dr. May")."""
    lower = word.lower()
    return word[0].isupper() and word[1:].islower() and lower in person_names()
