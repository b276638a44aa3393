"""US states, US towns and countries from the GeoNames lexicon, in uncased and cased text.

A place name of two or more words ("SOUTH BOSTON", "New Mexico") or one that is no English word
("WORCESTER") is a place on its own; in uncased text, one made of English words only ("LONG
ISLAND") counts after a locative only. One that is also a word ("Reading", "Boston", a card game)
counts only in cased text, capitalized, after "in", "from", "to", "at", "near" or "on".
"""

from __future__ import annotations

import re

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from deidentify.casing import MAX_PLACE_WORDS, is_single_spaced, is_uncased
from deidentify.lexicons import (
    WORD,
    clinical_words,
    is_english,
    is_misspelling,
    place_names,
    world_city_names,
)
from deidentify.recognizers.results import make_result

LOCATIVE = re.compile(r"\b(?i:in|from|to|at|near|on)\s+(?i:the\s+)?\Z")
# Characters before a place searched for a locative ("FROM THE ").
LOCATIVE_CHARS = 12
# Words after a town's name that make it an eponym ("at Padua score 5", "to Lugano criteria").
EPONYM_AFTER = re.compile(
    r"\s+(?i:score|scores|criteria|classification|scale|stage|staging|type|system|definition|"
    r"grade|syndrome|disease|virus|guidelines?|trial|protocol)\b"
)
# Shorter names of towns outside the United States are as often abbreviations ("Aba", "Ica").
MIN_WORLD_TOWN_LENGTH = 4


class PlaceRecognizer(LocalRecognizer):
    """Detect lexicon places (entity `LOCATION`)."""

    NAME = "PlaceRecognizer"
    ENTITY = "LOCATION"
    SCORE = 0.5

    def __init__(self) -> None:
        super().__init__(supported_entities=[self.ENTITY], name=self.NAME)

    def load(self) -> None:
        place_names()  # loads the lexicon once, before the first note

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if self.ENTITY not in entities:
            return []
        uncased = is_uncased(text)
        words = list(WORD.finditer(text))
        results = []
        index = 0
        while index < len(words):
            size = self._place_size(text, words, index, uncased=uncased)
            if size:
                last = words[index + size - 1]
                end = last.start() + len(last.group(0).rstrip("-"))
                results.append(self._result(words[index].start(), end))
            index += max(size, 1)
        return results

    def _place_size(
        self, text: str, words: list[re.Match[str]], index: int, *, uncased: bool
    ) -> int:
        """Return how many words from `index` form a place name, or 0."""
        for size in range(MAX_PLACE_WORDS, 0, -1):
            group = words[index : index + size]
            if len(group) < size or not is_single_spaced(text, group):
                continue
            if not uncased and not all(word.group(0)[0].isupper() for word in group):
                continue
            # A dash after the name is punctuation ("FROM CAPE COD- SISTER").
            phrase = " ".join(word.group(0).lower().rstrip("-") for word in group)
            if phrase in clinical_words():
                continue
            if phrase not in place_names():
                # A town abroad only after a locative: "Vera", "Padua" and "Lugano" also name
                # diseases, scores and stages ("Polycythemia Vera", "Padua score").
                if (
                    not uncased
                    and self._is_world_town(phrase, group)
                    and LOCATIVE.search(
                        text[max(0, group[0].start() - LOCATIVE_CHARS) : group[0].start()]
                    )
                    and not EPONYM_AFTER.match(text, group[-1].end())
                ):
                    return size
                continue
            before = text[max(0, group[0].start() - LOCATIVE_CHARS) : group[0].start()]
            english = [is_english(word.group(0).rstrip("-")) for word in group]
            if size > 1 and all(english) and uncased and not LOCATIVE.search(before):
                continue  # "LONG ISLAND OF NECROSIS": English words with no cue
            if size > 1 or not (is_english(phrase) or is_misspelling(phrase)):
                return size
            # A place that is also a word: only written as a name, after a locative. Without
            # letter case "TO GREEN" and "IN CENTER" are colours and positions.
            if not uncased and LOCATIVE.search(before):
                return size
        return 0

    @staticmethod
    def _is_world_town(phrase: str, group: list[re.Match[str]]) -> bool:
        """Return whether capitalized words in cased text name a town outside the United States.

        Every word must be written as a name ("Aalborg", not "IgA") and none may be an English
        word or a misspelling of one ("March", "Best", "Epsom").
        """
        if phrase not in world_city_names():
            return False
        for match in group:
            word = match.group(0).rstrip("-")
            if len(word) < MIN_WORLD_TOWN_LENGTH or not (word.istitle() or word.isupper()):
                return False
            if is_english(word) or is_misspelling(word):
                return False
        return True

    def _result(self, start: int, end: int) -> RecognizerResult:
        return make_result(
            self.NAME,
            self.id,
            entity_type=self.ENTITY,
            start=start,
            end=end,
            score=self.SCORE,
            reason="GeoNames place",
        )
