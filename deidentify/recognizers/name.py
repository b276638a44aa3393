"""Person names signalled by a title or a self-introduction, which spaCy's small model misses.

"Dr. Okafor", "Doctor Vance", "Mrs. Lindqvist", "my name is Sven Mbeki", "it's Tomasz Okafor".
The span covers the name only, never the title.
"""

from presidio_analyzer import Pattern, PatternRecognizer

CAPITALIZED = r"[A-Z][a-zA-Z'\-]+"
NAME = rf"{CAPITALIZED}(?:\s+{CAPITALIZED})?"


class TitledNameRecognizer(PatternRecognizer):
    """Detect names after titles and introductions (entity `PERSON`)."""

    ENTITY = "PERSON"
    PATTERNS = [
        Pattern(
            "name_after_title",
            rf"(?<=\b(?:Dr|Mr|Mrs|Ms|Miss|Mx|Prof)\.\s){NAME}|"
            rf"(?<=\b(?:Dr|Mr|Mrs|Ms|Miss|Mx|Prof)\s){NAME}|(?<=\bDoctor\s){NAME}",
            0.7,
        ),
        Pattern(
            "name_introduction",
            rf"(?<=\b[Mm]y name is\s){NAME}|(?<=\b[Ii]t's\s){NAME}(?=[.,])|"
            rf"(?<=\b[Tt]his is\s){NAME}(?=[.,])",
            0.6,
        ),
    ]

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            name="TitledNameRecognizer",
        )
