"""Build Presidio results for medsum's recognizers, and cut pattern matches to their name words."""

from collections.abc import Callable

from presidio_analyzer import AnalysisExplanation, RecognizerResult

from deidentify.lexicons import WORD


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
    most: int | None = None,
) -> RecognizerResult | None:
    """Cut `result` after its leading words for which `is_part` holds, or drop it (None).

    The `first` words count whatever they are (a hospital's name up to "Hospital"); at most
    `most` words are checked.
    """
    words = list(WORD.finditer(text, result.start, result.end))
    limit = len(words) if most is None else min(len(words), most)
    count = first
    while count < limit and is_part(words[count].group(0)):
        count += 1
    if not count:
        return None
    result.end = words[count - 1].end()
    return result
