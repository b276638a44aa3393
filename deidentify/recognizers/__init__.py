"""Clinical recognizers that medsum adds to Presidio's defaults, one per file."""

from deidentify.recognizers.age import ClinicalAgeRecognizer
from deidentify.recognizers.care_team import CareTeamNameRecognizer
from deidentify.recognizers.date import ClinicalDateRecognizer
from deidentify.recognizers.facility import FacilityRecognizer
from deidentify.recognizers.identifier import IdentifierRecognizer
from deidentify.recognizers.initials import InitialNameRecognizer
from deidentify.recognizers.lexicon_name import LexiconNameRecognizer
from deidentify.recognizers.location import ResidenceLocationRecognizer
from deidentify.recognizers.mrn import MedicalRecordNumberRecognizer
from deidentify.recognizers.name import TitledNameRecognizer
from deidentify.recognizers.phone import ShapePhoneRecognizer
from deidentify.recognizers.place import PlaceRecognizer
from deidentify.recognizers.relative import RelativeNameRecognizer
from deidentify.recognizers.street import StreetAddressRecognizer
from deidentify.recognizers.transfer import TransferLocationRecognizer
from deidentify.recognizers.url import StrictUrlRecognizer
from deidentify.recognizers.zip_code import ZipCodeRecognizer

ALL_RECOGNIZERS = (
    CareTeamNameRecognizer,
    ClinicalAgeRecognizer,
    ClinicalDateRecognizer,
    FacilityRecognizer,
    IdentifierRecognizer,
    InitialNameRecognizer,
    LexiconNameRecognizer,
    MedicalRecordNumberRecognizer,
    RelativeNameRecognizer,
    ResidenceLocationRecognizer,
    PlaceRecognizer,
    ShapePhoneRecognizer,
    StreetAddressRecognizer,
    StrictUrlRecognizer,
    TitledNameRecognizer,
    TransferLocationRecognizer,
    ZipCodeRecognizer,
)

__all__ = [
    "ALL_RECOGNIZERS",
    "CareTeamNameRecognizer",
    "ClinicalAgeRecognizer",
    "ClinicalDateRecognizer",
    "FacilityRecognizer",
    "IdentifierRecognizer",
    "InitialNameRecognizer",
    "LexiconNameRecognizer",
    "MedicalRecordNumberRecognizer",
    "PlaceRecognizer",
    "RelativeNameRecognizer",
    "ResidenceLocationRecognizer",
    "ShapePhoneRecognizer",
    "StreetAddressRecognizer",
    "StrictUrlRecognizer",
    "TitledNameRecognizer",
    "TransferLocationRecognizer",
    "ZipCodeRecognizer",
]
