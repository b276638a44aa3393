"""Names of clinicians next to the phrases nursing notes use for them.

"SEEN BY HARTWELL", "discussed with Okafor", "per Lindqvist", "NP VANCE", "PAGED MBEKI",
"HARTWELL AWARE", "Okafor notified", "grace visited". The span covers the one word after or before
the cue; the de-identifier extends it over an adjacent census name ("SEEN BY JOHN HARTWELL").
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from deidentify.casing import is_uncased
from deidentify.lexicons import (
    KINSHIP_WORDS,
    is_common_surname,
    is_first_name,
    is_known_name,
    is_name_or_unknown,
    is_unknown_word,
)
from deidentify.recognizers.results import CasedPatternRecognizer

# Phrases after which a clinician's name follows. "by" and "with" alone are too common.
BEFORE_NAME = (
    r"(?i:seen(?: and examined)? by|evaluated by|examined by|followed by|covered by|"
    r"discussed with|spoke(?: with| to)|talked(?: with| to)|paged|notified|informed|"
    r"per|updated|surgeon|cardiologist|intensivist|hospitalist|covering)"
)
# Roles written right before a name ("NP Dana", "attending Vance"): a stronger cue, after which
# a census name that is also a word counts when it is capitalized.
ROLE_BEFORE_NAME = r"(?:attending|resident|fellow|intern|np|pa|rn|nurse|h\.?o\.?|pcp)"
# Words after which a clinician's name precedes: "HARTWELL AWARE", "Okafor paged".
AFTER_NAME = r"(?i:aware|notified|informed|paged|called|in to see|at bedside|here to see)"
WORD_SHAPE = r"[A-Za-z][A-Za-z'\-]+"
# Letters that start clinical terms of a letter and a word ("X RAY", "K RIDER", "D DIMER",
# "C DIFF", "T SPINE", "P WAVE", "V TACH", "A LINE", "R ARM", "L HAND", "B LEGS", "S PAIN"), so
# that before "ordered" or "aware" they are no initial.
CLINICAL_LETTERS = frozenset("ABCDIKLPQRSTVX")
# Verbs whose subject is a person, after which a common first name counts even when it is also
# a word ("grace visited", "RUTH CALLED").
PERSON_VERBS = (
    r"(?i:visited|visits|called|calls|phoned|texted|emailed|stated|states|said|says|asked|asks|"
    r"requested|spoke|agreed|was updated|is aware|will call|will visit|"
    r"from (?:case management|cm|social work|sw|pt|ot|physical therapy|nutrition|pharmacy|"
    r"rehab|hospice|admitting|the (?:care|primary) team))"
)
# Words before a first name that make it a word: an article, a letter ("X RAY") or a vital sign
# that rose or fell ("TEMP ROSE").
NOT_BEFORE_FIRST_NAME = re.compile(
    r"(?i)\b(?:a|an|the|[a-z]|temp|hr|bp|sbp|map|sats?|spo2|glucose|bs|wt|weight|pain|uop|cvp|"
    r"rr|lactate|creat|wbc|hct)\s+\Z"
)


class CareTeamNameRecognizer(CasedPatternRecognizer):
    """Detect a clinician's name next to a care-team phrase (entity `PERSON`)."""

    ENTITY = "PERSON"
    PATTERNS = [
        Pattern("name_after_care_phrase", rf"(?<=\b{BEFORE_NAME}:?\s){WORD_SHAPE}\b", 0.6),
        Pattern("name_before_care_phrase", rf"\b{WORD_SHAPE}(?=\s{AFTER_NAME}\b)", 0.6),
        Pattern("name_after_role", rf"(?<=\b(?i:{ROLE_BEFORE_NAME}):?\s){WORD_SHAPE}\b", 0.6),
        # An initial and a surname before a cue ("M BAKER ORDERED", "k. bell aware"): with the
        # initial, a census name that is also a word counts.
        Pattern(
            "initial_name_before_care_phrase",
            rf"(?<![\w.])[A-Za-z]\.?\s{WORD_SHAPE}(?=\s(?:{AFTER_NAME}|(?i:ordered))\b)",
            0.6,
        ),
        Pattern("first_name_before_verb", rf"\b{WORD_SHAPE}(?=\s{PERSON_VERBS}\b)", 0.6),
    ]

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        uncased = is_uncased(text)
        kept = []
        for result in results:
            word = text[result.start : result.end]
            explanation = result.analysis_explanation
            pattern = explanation.pattern_name if explanation is not None else None
            if pattern == "initial_name_before_care_phrase":
                if self._is_initial_and_surname(word, uncased=uncased):
                    kept.append(result)
            elif pattern in ("first_name_before_verb", "name_before_care_phrase") and (
                NOT_BEFORE_FIRST_NAME.search(text, max(0, result.start - 12), result.start)
                and not is_known_name(word)
            ):
                continue
            elif pattern == "first_name_before_verb":
                first = is_first_name(word) and (uncased or not word.islower())
                if (first or is_known_name(word)) and word.lower() not in KINSHIP_WORDS:
                    kept.append(result)
            elif self.can_be_name(word, uncased=uncased) or (
                pattern == "name_after_role" and not uncased and self.is_capitalized_name(word)
            ):
                kept.append(result)
        return kept

    @staticmethod
    def _is_initial_and_surname(phrase: str, *, uncased: bool) -> bool:
        """Return whether "M BAKER" before "ordered" is an initial and a surname.

        The surname must be a census name that is no English word or one of the common census
        surnames, so "J WIRE ORDERED" and "E faecalis called" stay. In cased text it must also
        be capitalized.
        """
        initial, surname = phrase[0].upper(), phrase.split()[-1]
        # With a period the letter is an initial ("K. BELL AWARE"); without, it may be a term.
        if (initial in CLINICAL_LETTERS and phrase[1] != ".") or not is_name_or_unknown(surname):
            return False
        if not uncased and not surname[0].isupper():
            return False
        return is_known_name(surname) or is_common_surname(surname)

    @staticmethod
    def is_capitalized_name(word: str) -> bool:
        """Return whether `word` is a census name written as a name ("Dana", not "dana")."""
        return word[0].isupper() and word[1:].islower() and is_name_or_unknown(word)

    @staticmethod
    def can_be_name(word: str, *, uncased: bool) -> bool:
        """Whether `word` can be a name here: a census name that is no English word, or a word
        that is in no list.

        A census name that is also a word ("HILL", "BELL") is not enough after a cue this weak.
        In cased text the word must also be capitalized ("per protocol" is no name), and a word
        in capitals must be a census name, because there it is most often an abbreviation.
        """
        if word.lower() in KINSHIP_WORDS:
            return False  # "MOM CALLED"
        if not (is_known_name(word) or is_unknown_word(word) or is_first_name(word)):
            return False
        if uncased:
            return True
        if not word[0].isupper():
            return False
        return not word.isupper() or is_known_name(word)
