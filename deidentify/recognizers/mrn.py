"""Medical record numbers: an MRN keyword followed by a 5-10 digit code, or a bare code near one."""

from presidio_analyzer import Pattern, PatternRecognizer


class MedicalRecordNumberRecognizer(PatternRecognizer):
    """Detect medical record numbers (entity `MEDICAL_RECORD_NUMBER`)."""

    ENTITY = "MEDICAL_RECORD_NUMBER"
    # A labelled number is near-certain; a bare 6-10 digit run is only a candidate that the
    # context words below raise.
    PATTERNS = [
        Pattern(
            "mrn_labelled",
            r"(?i)\b(?:MRN|MR#|MR\s*No\.?|medical\s+record\s+(?:number|no\.?|#))\s*[:#]?\s*"
            r"[A-Z]{0,3}-?\d{5,10}\b",
            0.9,
        ),
        Pattern("mrn_bare", r"\b\d{6,10}\b", 0.1),
    ]
    CONTEXT = ["mrn", "medical record", "record number", "chart", "unit no", "hospital number"]

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            name="MedicalRecordNumberRecognizer",
        )
