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
        Pattern("phone_spaced", r"\b\d{3} \d{3} \d{4}\b", 0.5),
        # Extensions ("x45") after a number; Presidio compiles with the `regex` module, which
        # allows this variable-width look-behind.
        Pattern("phone_extension", r"(?<=\d{4} ?)x\d{1,5}\b", 0.6),
        # Pager and beeper numbers are 4-6 digits after the word ("Pager #12345", "PG 23456").
        Pattern(
            "pager_number",
            r"(?<=\b(?i:pager|beeper|pgr|pg)\b[^\d\n]{0,16})#?\d{4,6}\b",
            0.8,
        ),
    ]
    CONTEXT = [
        "phone", "call", "number", "fax", "cell", "pager", "beeper", "reach", "tel", "contact",
    ]  # fmt: skip

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            name="ShapePhoneRecognizer",
        )
