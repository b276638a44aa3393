"""Census names in uncased notes, where spaCy has no capital letters to go by.

A word that is a census surname or first name and no English or clinical word ("HARTWELL",
"OKAFOR") is a name on its own. Census names that are also words ("BROWN", "IRIS") join a name
only next to such a word ("IRIS HARTWELL"). Alone they are left to the context recognizers.
"""

from __future__ import annotations

import re

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from deidentify.casing import is_uncased
from deidentify.lexicons import (
    KINSHIP_WORDS,
    WORD,
    is_known_name,
    is_name_or_unknown,
    person_names,
)
from deidentify.recognizers.results import make_result


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
