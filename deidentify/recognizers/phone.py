"""US-style phone and fax numbers, valid area code or not.

Presidio's phone recognizer validates numbers with `phonenumbers`, which drops numbers whose area
code is unassigned. Surrogate and mistyped numbers in notes are still identifiers, so this
recognizer matches the shape alone.
"""

from presidio_analyzer import Pattern, PatternRecognizer


class ShapePhoneRecognizer(PatternRecognizer):
    """Detect phone and fax numbers by shape (entity `PHONE_NUMBER`)."""

    ENTITY = "PHONE_NUMBER"
    PATTERNS = [
        Pattern("phone_area_parens", r"\(\d{3}\)\s?\d{3}[-.\s]\d{4}\b", 0.7),
        Pattern("phone_dashed", r"\b\d{3}[-.]\d{3}[-.]\d{4}\b", 0.6),
        Pattern("phone_local", r"\b\d{3}-\d{4}\b", 0.3),
    ]
    CONTEXT = ["phone", "call", "number", "fax", "cell", "pager", "reach", "tel", "contact"]

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            name="ShapePhoneRecognizer",
        )
