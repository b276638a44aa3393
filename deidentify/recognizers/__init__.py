"""Clinical recognizers that medsum adds to Presidio's defaults, one per file."""

from deidentify.recognizers.age import ClinicalAgeRecognizer
from deidentify.recognizers.date import ClinicalDateRecognizer
from deidentify.recognizers.facility import FacilityRecognizer
from deidentify.recognizers.location import ResidenceLocationRecognizer
from deidentify.recognizers.mrn import MedicalRecordNumberRecognizer
from deidentify.recognizers.name import TitledNameRecognizer
from deidentify.recognizers.phone import ShapePhoneRecognizer
from deidentify.recognizers.relative import RelativeNameRecognizer
from deidentify.recognizers.url import StrictUrlRecognizer
from deidentify.recognizers.zip_code import ZipCodeRecognizer

ALL_RECOGNIZERS = (
    ClinicalAgeRecognizer,
    ClinicalDateRecognizer,
    FacilityRecognizer,
    MedicalRecordNumberRecognizer,
    RelativeNameRecognizer,
    ResidenceLocationRecognizer,
    ShapePhoneRecognizer,
    StrictUrlRecognizer,
    TitledNameRecognizer,
    ZipCodeRecognizer,
)

__all__ = [
    "ALL_RECOGNIZERS",
    "ClinicalAgeRecognizer",
    "ClinicalDateRecognizer",
    "FacilityRecognizer",
    "MedicalRecordNumberRecognizer",
    "RelativeNameRecognizer",
    "ResidenceLocationRecognizer",
    "ShapePhoneRecognizer",
    "StrictUrlRecognizer",
    "TitledNameRecognizer",
    "ZipCodeRecognizer",
]
