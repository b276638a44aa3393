"""Hospitals, rehabilitation centres and other facilities named by their kind or by a saint.

"Elmford Cross Hospital", "WORCESTER REHAB", "Greater Brixworth Med Ctr", "Elmford Memorial",
"St. Brigid's", "ST. ANSELM". Up to three capitalized words before a facility word form the
location; the facility word is included in the span. In uncased notes at least one of those words
must be a place, a census name that is no English word or a word in no list, so "HIS HOSPITAL"
and "BEGIN REHAB" stay.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS as SPACY_STOP_WORDS

from deidentify.casing import is_uncased
from deidentify.lexicons import (
    WORD,
    clinical_words,
    first_names,
    is_known_name,
    is_misspelling,
    is_unknown_word,
    place_names,
)
from deidentify.recognizers.results import CasedPatternRecognizer

STOP_WORDS = frozenset(word.lower() for word in SPACY_STOP_WORDS)
FACILITY = (
    r"(?i:hospital|hosp|medical center|medical ctr|med center|med ctr|memorial|rehab|"
    r"rehabilitation(?: center)?|clinic|nursing home|assisted living|health center|healthcare|"
    r"infirmary|hospice|care center|nursing facility|campus)"
)
# A capitalized word that is not a preposition or article ("PLACEMENT AT WORCESTER REHAB" must
# yield "WORCESTER REHAB" in upper-case notes).
NAME_WORD = (
    r"(?!(?i:at|to|from|the|in|of|and|or|for|with|by|on|placement|transfer)\b)[A-Z][A-Za-z'\.\-]+"
)
FACILITY_WORDS = frozenset(
    word.lower() for word in re.findall(r"[a-z]+", FACILITY.removeprefix("(?i:")) if word
)


class FacilityRecognizer(CasedPatternRecognizer):
    """Detect named facilities (entity `LOCATION`)."""

    ENTITY = "LOCATION"
    PATTERNS = [
        Pattern("named_facility", rf"\b{NAME_WORD}(?:\s{NAME_WORD}){{0,2}}\s{FACILITY}\b", 0.6),
        # A saint's name is a hospital, a church or a town ("St. Brigid's", "ST ANSELM"); not after
        # a number ("1 ST DEGREE").
        Pattern("saint_name", r"(?<!\d\s)\b(?:St|ST|st)\.?\s[A-Za-z][A-Za-z'\-]+", 0.5),
    ]

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        uncased = is_uncased(text)
        kept = []
        for result in super().analyze(text, entities, nlp_artifacts, regex_flags):
            explanation = result.analysis_explanation
            words = WORD.findall(text, result.start, result.end)
            if explanation is not None and explanation.pattern_name == "saint_name":
                if self._is_saint(words[-1], uncased=uncased):
                    kept.append(result)
            elif self._is_facility_name(words, uncased=uncased):
                kept.append(result)
        return kept

    @staticmethod
    def _is_saint(word: str, *, uncased: bool) -> bool:
        """Return whether a saint's name is a first name, a census name that is no English word,
        or a word in no list ("ST. HIGH" is a rhythm)."""
        name = word.removesuffix("'s").removesuffix("'S").lower()
        if name in clinical_words() or name in STOP_WORDS:
            return False
        if not (name in first_names() or is_known_name(name) or is_unknown_word(name)):
            return False
        return uncased or (word[0].isupper() and not word.isupper())

    @staticmethod
    def _is_facility_name(words: list[str], *, uncased: bool) -> bool:
        name = [word for word in words if word.lower() not in FACILITY_WORDS]
        if len(name) > 1 and name[0].lower().strip(".") == "st":
            name = name[1:]  # a saint's name ("St Brigid Hospital"), not sinus tachycardia
        lowered = [word.lower().strip(".") for word in name]
        if not name or any(word in STOP_WORDS or word in clinical_words() for word in lowered):
            return False
        if any(is_misspelling(word) for word in lowered):
            return False
        if not uncased:
            return True
        # In an uncased note a word written in title case was capitalized on purpose.
        return any(
            word in place_names() or is_known_name(word) or is_unknown_word(word)
            for word in lowered
        ) or any(word[0].isupper() and word[1:].islower() for word in name)
