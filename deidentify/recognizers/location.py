"""Places of residence or origin after "live in", "moved to", "grew up in" and similar phrases.

"I live over in Fairview", "PT LIVES IN WORCESTER WITH WIFE". In cased text the place is up to
three capitalized words. In uncased text it is the leading words that are a lexicon place, a
census name or a word in no list, so "LIVES IN WORCESTER" yields "WORCESTER" and "LIVES IN A
HOUSE" yields nothing.
"""

from __future__ import annotations

from presidio_analyzer import Pattern, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from deidentify.casing import is_uncased
from deidentify.lexicons import (
    clinical_words,
    is_known_name,
    is_unknown_word,
    place_names,
    world_city_names,
)
from deidentify.recognizers.results import CasedPatternRecognizer, keep_leading_words

# Up to three capitalized words in any script ("Worcester", "Poznań", "TROMSØ").
PLACE = r"\p{Lu}[\p{L}'\-]+(?:\s+\p{Lu}[\p{L}'\-]+){0,2}"
RESIDENCE = r"(?i:lives? in|live over in|moved to|moved here from|resides in)"
# Cues that also come before things other than places ("grew up in Foster Care", "visiting from
# Rehab", "relocated to Room 12"): the words after them must be place or name words.
ORIGIN = r"(?i:originally from|grew up in|relocated to|visiting from)"


class ResidenceLocationRecognizer(CasedPatternRecognizer):
    """Detect towns and cities after residence phrases (entity `LOCATION`)."""

    ENTITY = "LOCATION"
    PATTERNS = [
        Pattern("residence_phrase", rf"(?<=\b{RESIDENCE}\s){PLACE}", 0.6),
        Pattern("origin_phrase", rf"(?<=\b{ORIGIN}\s){PLACE}", 0.6),
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
        places = []
        for result in results:
            explanation = result.analysis_explanation
            origin = explanation is not None and explanation.pattern_name == "origin_phrase"
            if origin and _is_lexicon_place(text[result.start : result.end]):
                places.append(result)
            elif uncased or origin:
                trimmed = keep_leading_words(text, result, _is_place_word)
                if trimmed is not None:
                    places.append(trimmed)
            else:
                places.append(result)
        return places


def _is_lexicon_place(phrase: str) -> bool:
    """Return whether `phrase` is a GeoNames or region place ("Worcester", "Aalborg")."""
    normalized = " ".join(phrase.lower().split())
    return normalized in place_names() or normalized in world_city_names()


def _is_place_word(word: str) -> bool:
    lower = word.lower()
    if lower in clinical_words():
        return False
    return lower in place_names() or is_known_name(lower) or is_unknown_word(lower)
