"""Build Presidio results for medsum's recognizers, and cut pattern matches to their name words."""

import re
from collections.abc import Callable
from typing import ClassVar

from presidio_analyzer import AnalysisExplanation, Pattern, PatternRecognizer, RecognizerResult

from deidentify.lexicons import WORD


class CasedPatternRecognizer(PatternRecognizer):
    """A pattern recognizer of one entity type whose patterns match letter case as written.

    Presidio's default flags ignore case, but here a name or place starts with a capital letter.
    Subclasses set ENTITY and PATTERNS, and the recognizer's name is the class name.
    """

    ENTITY: ClassVar[str]
    PATTERNS: ClassVar[list[Pattern]]

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            global_regex_flags=re.DOTALL | re.MULTILINE,
            name=type(self).__name__,
        )


def make_result(
    recognizer_name: str,
    recognizer_id: str,
    *,
    entity_type: str,
    start: int,
    end: int,
    score: float,
    reason: str,
) -> RecognizerResult:
    """Return a result that carries the recognizer's name, as Presidio's own recognizers do."""
    explanation = AnalysisExplanation(
        recognizer=recognizer_name, original_score=score, textual_explanation=reason
    )
    return RecognizerResult(
        entity_type=entity_type,
        start=start,
        end=end,
        score=score,
        analysis_explanation=explanation,
        recognition_metadata={
            RecognizerResult.RECOGNIZER_NAME_KEY: recognizer_name,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: recognizer_id,
        },
    )


def with_bounds(result: RecognizerResult, start: int, end: int) -> RecognizerResult:
    """Return a copy of `result` that covers [start, end) instead."""
    return RecognizerResult(
        entity_type=result.entity_type,
        start=start,
        end=end,
        score=result.score,
        analysis_explanation=result.analysis_explanation,
        recognition_metadata=result.recognition_metadata,
    )


def keep_leading_words(
    text: str,
    result: RecognizerResult,
    is_part: Callable[[str], bool],
    *,
    first: int = 0,
    max_words: int | None = None,
) -> RecognizerResult | None:
    """Cut `result` after its leading words for which `is_part` holds, or drop it (None).

    The `first` words count whatever they are (a hospital's name up to "Hospital"). At most
    `max_words` words are checked.
    """
    words = list(WORD.finditer(text, result.start, result.end))
    limit = len(words) if max_words is None else min(len(words), max_words)
    count = first
    while count < limit and is_part(words[count].group(0)):
        count += 1
    if not count:
        return None
    result.end = words[count - 1].end()
    return result
