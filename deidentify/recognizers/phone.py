"""Phone and fax numbers by shape: US-style (valid area code or not) and international with "+".

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
        # International numbers start with "+" and a country code, then 6-13 more digits in
        # groups ("+44 20 7946 0958", "+49 (0)30 123456", "+1-202-555-0143"). The "+" prefix
        # keeps doses and lab values out.
        Pattern(
            "phone_international",
            r"(?<![\w+])\+\d{1,3}(?:[\s.-]?\(\d{1,4}\))?(?:[\s.-]?\d{1,5}){2,5}\b",
            0.7,
        ),
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

    def validate_result(self, pattern_text: str) -> bool | None:
        """Reject an international match with fewer than 8 or more than 15 digits (E.164)."""
        if not pattern_text.startswith("+"):
            return None
        digits = sum(character.isdigit() for character in pattern_text)
        return 8 <= digits <= 15
