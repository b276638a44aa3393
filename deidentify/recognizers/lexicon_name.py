"""Census names in uncased notes, where spaCy has no capital letters to go by.

A word that is a census surname or first name and no English or clinical word ("HARTWELL",
"OKAFOR") is a name on its own. Census names that are also words ("BROWN", "IRIS") join a name
only next to such a word ("IRIS HARTWELL"). Alone they are left to the context recognizers. A
common first name followed by a word in no list is a name too ("ruth brixwold").
"""

from __future__ import annotations

import itertools
import re

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from deidentify.casing import is_uncased
from deidentify.lexicons import (
    KINSHIP_WORDS,
    WORD,
    is_first_name,
    is_known_name,
    is_name_or_unknown,
    is_unknown_word,
    person_names,
)
from deidentify.recognizers.results import make_result

# Letters a word in no list needs after a first name; shorter ones are mostly abbreviations.
MIN_UNKNOWN_SURNAME = 4
CONTRACTION = re.compile(r"(?i)'(?:re|ve|ll|d|t|m)\Z")


class LexiconNameRecognizer(LocalRecognizer):
    """Detect census names in uncased text (entity `PERSON`)."""

    NAME = "LexiconNameRecognizer"
    ENTITY = "PERSON"
    # Below the context recognizers (0.6-0.9) but above the default threshold of 0.4, so a
    # census name that is no English word is replaced even without a cue (recall first).
    SCORE = 0.5
    # Words that raise the score when they are near a name.
    CONTEXT = [
        "dr", "doctor", "md", "rn", "np", "wife", "husband", "son", "daughter", "sister",
        "brother", "mother", "father", "family", "called", "seen", "spoke", "per", "aware",
    ]  # fmt: skip

    def __init__(self) -> None:
        super().__init__(
            supported_entities=[self.ENTITY],
            context=self.CONTEXT,
            name=self.NAME,
        )

    def load(self) -> None:
        person_names()  # loads the lexicons once, before the first note

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if self.ENTITY not in entities or not is_uncased(text):
            return []
        words = list(WORD.finditer(text))
        results = []
        index = 0
        while index < len(words):
            if not is_known_name(words[index].group(0)):
                index += 1
                continue
            first = last = index
            # A census name that is also a word joins across one space on either side.
            while first > 0 and self._joins(text, words[first - 1], words[first]):
                first -= 1
            while last + 1 < len(words) and self._joins(text, words[last], words[last + 1]):
                last += 1
            results.append(self._result(words[first].start(), words[last].end()))
            index = last + 1
        return results + self._first_and_unknown(text, words)

    def _first_and_unknown(self, text: str, words: list[re.Match[str]]) -> list[RecognizerResult]:
        """Return a common first name followed by a word that is in no list ("ruth brixwold").

        Either word alone is weak: many first names are words ("ruth", "grace"), and a word in
        no list is as often an abbreviation. Together they are a name.
        """
        results = []
        for left, right in itertools.pairwise(words):
            if text[left.end() : right.start()] != " " or not is_first_name(left.group(0)):
                continue
            surname = right.group(0).rstrip("-'")
            if CONTRACTION.search(surname):
                continue  # "HOPE YOU'RE", which no word list contains in that form
            if len(surname) < MIN_UNKNOWN_SURNAME or not is_unknown_word(surname):
                continue
            if left.group(0).lower() not in KINSHIP_WORDS:
                results.append(self._result(left.start(), right.start() + len(surname)))
        return results

    @staticmethod
    def _joins(text: str, left: re.Match[str], right: re.Match[str]) -> bool:
        if text[left.end() : right.start()] != " ":
            return False
        return all(
            is_name_or_unknown(word.group(0))
            and word.group(0).lower() in person_names()
            and word.group(0).lower() not in KINSHIP_WORDS
            for word in (left, right)
        )

    def _result(self, start: int, end: int) -> RecognizerResult:
        return make_result(
            self.NAME,
            self.id,
            entity_type=self.ENTITY,
            start=start,
            end=end,
            score=self.SCORE,
            reason="census name",
        )
