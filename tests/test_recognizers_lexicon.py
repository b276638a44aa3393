"""Lexicon-based detection for uncased notes: casing, word lists and the recognizers using them.

All text here is made up. Names are chosen from the census lists ("Hartwell", "Okafor") or are
invented words that no list holds ("Brixworth").
"""

import logging

import pytest

from deidentify.casing import is_uncased, to_upper_case, truecase
from deidentify.lexicons import is_english, is_known_name, is_name_or_unknown, is_unknown_word
from deidentify.recognizers import (
    CareTeamNameRecognizer,
    LexiconNameRecognizer,
    PlaceRecognizer,
    TransferLocationRecognizer,
)


def matched(recognizer, text: str, entity: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [text[r.start : r.end] for r in recognizer.analyze(text, [entity]) if r.score >= 0.4]


def detected(deidentifier, text: str, entity: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [text[s.start : s.end] for s in deidentifier.detect(text) if s.entity_type == entity]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT RESTING COMFORTABLY, FAMILY AT BEDSIDE. PLAN TO WEAN.", True),
        ("pt resting comfortably. family at bedside. plan to wean.", True),
        ("Patient resting comfortably. Family at bedside. Plan to wean.", False),
        ("Pt resting, BP 110/60 on 2 mcg of levophed. Family at bedside.", False),
        ("BP OK", False),
    ],
    ids=["capitals", "lower-case", "sentence-case", "sentence-case-abbreviations", "too-short"],
)
def test_is_uncased(text: str, expected: bool) -> None:
    assert is_uncased(text) is expected


def test_truecase_capitalizes_names_only() -> None:
    text = "SEEN BY HARTWELL, LUNGS CLEAR, BROWN STOOL. WIFE FROM NEW MEXICO."
    truecased = truecase(text)
    assert truecased == "seen by Hartwell, lungs clear, brown stool. wife from New Mexico."
    assert len(truecased) == len(text)


def test_truecase_keeps_title_case_and_length() -> None:
    text = "son Nick visited İstanbul"
    truecased = truecase(text)
    assert truecased.startswith("son Nick visited")
    assert len(truecased) == len(text)


def test_to_upper_case_keeps_title_case_words() -> None:
    assert to_upper_case("pt's son Nick arrived.") == "PT'S SON Nick ARRIVED."


@pytest.mark.parametrize(
    ("word", "known_name", "name_or_unknown"),
    [
        ("HARTWELL", True, True),
        ("okafor", True, True),
        ("BROWN", False, True),  # a census name that is also an English word
        ("FOLEY", False, False),  # a census name that is a clinical word
        ("NG", False, True),  # two letters: a name only after a cue ("DR. NG")
        ("HELD", False, False),  # an irregular verb form
        ("LUNGS", False, False),  # an English plural
        ("BRIXWORTH", False, True),  # a word that no list holds
        ("THE", False, False),
    ],
)
def test_name_lexicon(word: str, known_name: bool, name_or_unknown: bool) -> None:
    assert is_known_name(word) is known_name
    assert is_name_or_unknown(word) is name_or_unknown


@pytest.mark.parametrize(
    ("word", "english"),
    [("coughing", True), ("bigger", True), ("stopped", True), ("dec", True), ("okafor", False)],
)
def test_english_inflections(word: str, english: bool) -> None:
    assert is_english(word) is english


def test_unknown_word() -> None:
    assert is_unknown_word("Brixworth")
    assert not is_unknown_word("Hartwell")
    assert not is_unknown_word("draining")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT SEEN TODAY, OKAFOR AT BEDSIDE, LUNGS CLEAR.", ["OKAFOR"]),
        ("JOHN HARTWELL VISITED THIS AM, PT RESTING.", ["JOHN HARTWELL"]),
        ("IRIS HARTWELL VISITED THIS AM, PT RESTING.", ["IRIS HARTWELL"]),
        ("pt seen today, okafor at bedside, lungs clear.", ["okafor"]),
        ("BROWN STOOL NOTED, FOLEY DRAINING CLEAR URINE.", []),
        ("ROSE TO 38.5 OVERNIGHT, TYLENOL GIVEN, PT RESTING.", []),
        ("Pt seen today, Okafor at bedside, lungs clear.", []),
    ],
    ids=[
        "known-name",
        "first-and-last",
        "word-joins-known-name",
        "lower-case",
        "words-that-are-surnames",
        "word-alone",
        "cased-text-left-to-spacy",
    ],
)
def test_lexicon_name_recognizer(text: str, expected: list[str]) -> None:
    found = [text[r.start : r.end] for r in LexiconNameRecognizer().analyze(text, ["PERSON"])]
    assert found == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT SEEN BY HARTWELL THIS AM.", ["HARTWELL"]),
        ("OKAFOR AWARE OF LABS.", ["OKAFOR"]),
        ("NP BRIXWORTH IN TO SEE PT.", ["BRIXWORTH"]),
        ("Plan discussed with Okafor.", ["Okafor"]),
        ("LASIX GIVEN PER PROTOCOL.", []),
        ("FAMILY CALLED, UPDATED.", []),
        ("NOTIFIED MD OF LOW UO.", []),
        ("Lasix given per protocol.", []),
        ("Plan discussed with team, per NSICU.", []),
        ("Seen by cardiology.", []),
    ],
    ids=[
        "seen-by",
        "aware",
        "unknown-word",
        "cased",
        "per-protocol",
        "family-called",
        "clinical-word",
        "cased-lower-word",
        "cased-abbreviation",
        "service",
    ],
)
def test_care_team_name_recognizer(text: str, expected: list[str]) -> None:
    assert matched(CareTeamNameRecognizer(), text, "PERSON") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("WIFE DROVE IN FROM VERMONT.", ["VERMONT"]),
        ("Daughter lives in New Mexico.", ["New Mexico"]),
        ("PT IS FROM READING.", ["READING"]),
        ("READING OF 98 ON THE MONITOR.", []),
        ("Her sister said new mexico was nice. She visited.", []),
    ],
    ids=["state", "two-words", "word-after-locative", "word-alone", "lower-case-in-cased-text"],
)
def test_place_recognizer(text: str, expected: list[str]) -> None:
    assert matched(PlaceRecognizer(), text, "LOCATION") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT TRANSFERRED FROM BRIXWORTH ON 3/14.", ["BRIXWORTH"]),
        ("Pt admitted from Brixworth Manor.", ["Brixworth Manor"]),
        ("PT TRANSFERRED TO THE FLOOR.", []),
        ("ADMITTED FROM OR, INTUBATED.", []),
        ("Pt sent to radiology.", []),
    ],
    ids=["unknown-place", "cased", "english-word", "clinical-abbreviation", "cased-lower-word"],
)
def test_transfer_location_recognizer(text: str, expected: list[str]) -> None:
    assert matched(TransferLocationRecognizer(), text, "LOCATION") == expected


@pytest.mark.parametrize(
    ("text", "entity", "expected"),
    [
        ("NEURO: ALERT, MAE. CV: HR 80S. ABD SOFT, FOLEY DRAINING.", "PERSON", []),
        ("Neuro: alert. CV: HR 80s. Abd soft, Foley draining.", "PERSON", []),
        ("PT SEEN BY DR. JOHN HARTWELL, PLAN UNCHANGED.", "PERSON", ["JOHN HARTWELL"]),
        ("WIFE IRIS AT BEDSIDE, PT CALM.", "PERSON", ["IRIS"]),
        ("WIFE AT BEDSIDE, PT CALM. SON CALLED.", "PERSON", []),
        ("TRANSFERRED FROM BRIXWORTH, FAMILY FROM VERMONT.", "LOCATION", ["BRIXWORTH"]),
    ],
    ids=[
        "upper-clinical-words",
        "cased-clinical-words",
        "title-then-two-names",
        "relative-word-name",
        "relative-then-verb",
        "places",
    ],
)
def test_uncased_notes_end_to_end(
    deidentifier, text: str, entity: str, expected: list[str]
) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, entity) == expected


def test_lexicon_paths_log_no_text(deidentifier, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    text = "PT SEEN BY HARTWELL. WIFE IRIS OKAFOR CALLED. TRANSFERRED FROM BRIXWORTH."
    spans = deidentifier.detect(text)
    assert {text[s.start : s.end] for s in spans} >= {"HARTWELL", "IRIS OKAFOR", "BRIXWORTH"}
    for secret in ("HARTWELL", "OKAFOR", "BRIXWORTH", "IRIS", "hartwell", "brixworth"):
        assert secret not in caplog.text
    for span in spans:
        assert set(span.to_json()) == {"start", "end", "entity_type", "score", "recognizer"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SEEN ON 3/14 BY TEAM.", ["3/14"]),
        ("CXR ON 1/2 SHOWED EFFUSION.", ["1/2"]),
        ("ADMITTED 10/5, STABLE SINCE.", ["10/5"]),
        ("CPAP 5/5 WITH 40% FIO2.", []),
        ("changed to psv 10/5 this am.", []),
        ("PAIN 6/10 AT INCISION SITE.", []),
        ("D5 1/2 NS AT 100CC/HR.", []),
        ("TOLERATED FOR 1 1/2 HOURS.", []),
        ("ivf 1/2ns at 75.", []),
    ],
    ids=[
        "month-day",
        "fraction-after-on",
        "month-day-ten",
        "cpap-setting",
        "psv-setting",
        "pain-score",
        "fraction-saline",
        "mixed-number",
        "fraction-before-letters",
    ],
)
def test_date_ratios_are_not_dates(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "DATE") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I had the scan with Doctor X last spring.", ["X"]),
        ("She moved here from Albuquerque in May.", ["Albuquerque"]),
        ("Neuro: alert and oriented, moving all extremities.", []),
        ("Took Captopril and Esmolol overnight.", []),
    ],
    ids=["initial-after-title", "town", "heading", "drug-names"],
)
def test_cased_text_spacy_support(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    found = [text[s.start : s.end] for s in deidentifier.detect(text)]
    assert found == expected
