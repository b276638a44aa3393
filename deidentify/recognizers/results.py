"""Build a Presidio result for a recognizer that is not pattern based."""

from presidio_analyzer import AnalysisExplanation, RecognizerResult


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
