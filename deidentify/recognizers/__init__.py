"""Clinical recognizers that medsum adds to Presidio's defaults, one per file."""

from deidentify.recognizers.age import ClinicalAgeRecognizer
from deidentify.recognizers.date import ClinicalDateRecognizer
from deidentify.recognizers.mrn import MedicalRecordNumberRecognizer

__all__ = ["ClinicalAgeRecognizer", "ClinicalDateRecognizer", "MedicalRecordNumberRecognizer"]
