"""Phone and fax numbers by shape: US-style (valid area code or not) and international with "+".

Presidio's phone recognizer validates numbers with `phonenumbers`, which drops numbers whose area
code is unassigned. Surrogate and mistyped numbers in notes are still identifiers, so this
recognizer matches the shape alone.
"""

from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

# Words right before a phone number written in any layout.
PHONE_CUE = (
    r"(?i:phone|telephone|tel|mobile|cell|cellphone|fax|landline|whatsapp|"
    r"call\s+(?:me|us|her|him|them)\s+(?:at|on)|reach\s+(?:me|us|her|him|them)\s+(?:at|on))"
)
# Digits a number after a phone word must have: the shortest local numbers and E.164's maximum.
MIN_CUED_DIGITS = 7
MAX_CUED_DIGITS = 15


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
        # Digits in groups right after a phone word, in any national layout ("tel 030 1234 5678",
        # "mobile (02) 9876-5432", "fax 0612345678"); 7 to 15 digits, checked in `analyze`. A
        # form may put the number on the line after "Phone:".
        Pattern(
            "phone_after_cue",
            rf"(?<=\b{PHONE_CUE}\b(?:[^\d\n]{{0,20}}|[^\d\n]{{0,20}}:(?:[ \t]*\r?\n){{1,2}}[ \t]*))"
            r"\(?\d{2,12}\)?(?:[\s.-]{1,2}\d{2,8}){0,4}\b",
            0.6,
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

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        kept = []
        for result in super().analyze(text, entities, nlp_artifacts, regex_flags):
            explanation = result.analysis_explanation
            if explanation is not None and explanation.pattern_name == "phone_after_cue":
                digits = sum(char.isdigit() for char in text[result.start : result.end])
                if not MIN_CUED_DIGITS <= digits <= MAX_CUED_DIGITS:
                    continue
            kept.append(result)
        return kept

    def validate_result(self, pattern_text: str) -> bool | None:
        """Reject an international match with fewer than 8 or more than 15 digits (E.164)."""
        if not pattern_text.startswith("+"):
            return None
        digits = sum(character.isdigit() for character in pattern_text)
        return 8 <= digits <= 15
