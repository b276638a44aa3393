"""Detection rules for nursing notes: initials, credentials, facilities, streets, years, ratios.

All text is made up. Names come from the census lists ("Hartwell", "Okafor", "Vance") or are
invented words that no list contains ("Brixworth", "Elmford"). Each table has rows that must stay.
"""

import unicodedata

import pytest

from deidentify.lexicons import is_english, is_misspelling, is_unknown_word


def detected(deidentifier, text: str, entity: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [text[s.start : s.end] for s in deidentifier.detect(text) if s.entity_type == entity]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("K repleted, reported to J. Vance who agreed.", ["J. Vance"]),
        ("dsg changed by d. okafor and n. hartwell at noon.", ["d. okafor", "n. hartwell"]),
        ("BC positive for S. aureus and E. coli.", []),
        ("R. HAND WARM, L. ARM EDEMA.", []),
        ("HR 90'S. BBS CLEAR WITH SUCTIONING.", []),
        ("dsg D+I. LLE incision pink.", []),
    ],
    ids=["cased", "lower-case", "organisms", "sides-of-body", "after-apostrophe", "after-plus"],
)
def test_initial_and_surname(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "PERSON") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CXR read, Hartwell-Vance MD plans a tap.", ["Hartwell-Vance"]),
        ("Insulin per N. Okafor NP this am.", ["N. Okafor"]),
        ("Plan discussed, will call Vance PA tomorrow.", ["Vance"]),
        ("On 2 L NP overnight, sats 95%.", []),
        ("Wedge 14, PA line pulled back.", []),
        ("CXR done. Improved per MD.", []),
        ("Pt married, wife MD at another hospital.", []),
        ("Seen by Drs. Okafor and Hartwell this am.", ["Okafor", "Hartwell"]),
        ("Plan per DR.HARTWELL.", ["HARTWELL"]),
        ("Mental status improving, monitor MS. Restart lopressor.", []),
    ],
    ids=[
        "hyphenated-before-md",
        "initial-before-np",
        "before-pa",
        "nasal-prongs",
        "pulmonary-artery",
        "verb-before-md",
        "relationship-before-md",
        "two-doctors",
        "no-space-after-dr",
        "mental-status",
    ],
)
def test_names_with_credentials_and_titles(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "PERSON") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Contact Tomasz Okafor (son) at home.", ["Tomasz Okafor"]),
        ("SOCIAL: DAUGHTER JANE IN TODAY.", ["JANE"]),
        ("social: son left for home, wife states she will return.", []),
        ("son and husband recieved update.", []),
        ("SISTER-IN-LAW VERY INVOLVED.", []),
        ("daughter phoned-family making arrangements.", []),
    ],
    ids=[
        "relationship-in-parentheses",
        "first-name-upper",
        "verbs-after-relationship",
        "misspelled-verb",
        "in-law",
        "hyphen-compound",
    ],
)
def test_relatives(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "PERSON") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Plan transfer to St. Brigid's tomorrow.", ["St. Brigid's"]),
        ("TO GO TO ST. ANSELM ON TUESDAY.", ["ST. ANSELM"]),
        ("HR 100 ST NO ECTOPY. 1 ST DEGREE AVB.", []),
        ("Lives alone at 27 Alder St. with her cat.", ["27 Alder St."]),
        ("GAVE 10 UNITS REG INSULIN ST. NO CHANGE.", []),
        ("PT LIVES AT 27 ALDER ST. WITH HER CAT.", ["27 ALDER ST."]),
        ("HAD 3 EPISODES ST IN 130S. 2 MEDIASTINAL CT DRAINING.", []),
        ("Transferred from Greater Brixworth Med Ctr overnight.", ["Greater Brixworth Med Ctr"]),
        ("DISCUSSED HIS HOSPITAL STAY. BEGIN REHAB.", []),
        ("pt admitted to MICU from Brixworth 3 this am.", ["Brixworth"]),
        ("returned to sinus rhythm, back from ultrasound.", []),
        ("Transfered to BXH for a cath. At BXH he was stable.", ["BXH", "BXH"]),
        ("Wife drove in from Vermont; brother lives in Canada.", []),
        ("ASPIRATES BILE TO GREEN, TISSUE IN CENTER.", []),
    ],
    ids=[
        "saint",
        "saint-upper",
        "sinus-tachycardia-and-degree",
        "street",
        "street-shape-of-an-order",
        "street-upper",
        "rhythm-and-chest-tube",
        "facility",
        "facility-words-only",
        "ward-with-floor",
        "clinical-places",
        "propagated-hospital",
        "state-and-country-kept",
        "colour-and-position",
    ],
)
def test_places(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "LOCATION") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PMH: CABG '07, MI'03.", ["'07", "'03"]),
        ("s/p pelvic fx6/04, R arm fx 9/88.", ["6/04", "9/88"]),
        ("Chemo stopped in March of 2004.", ["March of 2004"]),
        ("Returned to OR on 7-8 for coiling.", ["7-8"]),
        ("Ceftaz 8/2 - 8/10, then stopped.", ["8/2", "8/10"]),
        ("He is 5'10 tall.", []),
        ("Seen at 2000, sleeping at 1930.", []),
        ("On BIPAP 10/5 overnight, PS 5/5 this am.", []),
        ("Pain 6/10 at rest, #4/10 after meds.", []),
        ("3/6 SEM heard; 1/4 NS at 50 cc/hr.", []),
        ("BC 4/4 bottles positive; CO/CI/SVR 6/2.8/698.", []),
        ("On 2-3 L NC.", []),
    ],
    ids=[
        "apostrophe-year",
        "month-and-short-year",
        "month-of-year",
        "month-day-with-dash",
        "date-range",
        "feet-and-inches",
        "clock-times",
        "ventilator-settings",
        "pain-scores",
        "murmur-and-fluids",
        "counts-and-chains",
        "oxygen-range",
    ],
)
def test_dates_in_nursing_notes(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "DATE") == expected


@pytest.mark.parametrize(
    ("text", "unexpected"),
    [
        ("ON BIPAP, NO VEA NOTED. ENDO: FS 140. T MAX 99.", ["VEA", "ENDO", "MAX"]),
        ("Vent as per Carevue, see Labs. Remains on Replete.", ["Carevue", "Labs", "Replete"]),
        ("pt went to the PATEINT lounge, propofal off.", ["PATEINT", "propofal"]),
    ],
    ids=["upper-case-abbreviations", "capitalized-words", "misspellings"],
)
def test_clinical_words_are_not_names(deidentifier, text: str, unexpected: list[str]) -> None:  # type: ignore[no-untyped-def]
    found = {text[s.start : s.end] for s in deidentifier.detect(text)}
    assert not found & set(unexpected)


@pytest.mark.parametrize(
    ("word", "misspelled"),
    [
        ("pateint", True),
        ("recieved", True),
        ("propofal", True),
        ("okafor", False),
        ("vance", False),
    ],
)
def test_misspelling(word: str, misspelled: bool) -> None:
    assert is_misspelling(word) is misspelled


def test_hyphen_compounds_and_abbreviation_plurals() -> None:
    assert is_english("family-meeting")
    assert is_english("in-law")
    assert not is_english("hartwell-vance")
    assert is_english("PVCs")
    assert is_english("Pts")
    assert not is_unknown_word("vancomy")  # cut-off drug name
    assert is_unknown_word("brixworth")


def test_spacy_runs_its_entity_recognizer_only(deidentifier) -> None:  # type: ignore[no-untyped-def]
    nlp = deidentifier.analyzer.nlp_engine.nlp["en"]
    assert nlp.pipe_names == ["medsum_sentences", "ner"]
    # A line break ends a sentence, so a name does not run into the next line's heading.
    text = "Plan reviewed with Dr. Okafor\nNeuro: alert and oriented."
    assert detected(deidentifier, text, "PERSON") == ["Okafor"]


def test_presidio_gets_lower_case_lemmas(deidentifier) -> None:  # type: ignore[no-untyped-def]
    from deidentify.analysis import _lower_case_lemmas

    artifacts = deidentifier.analyzer.nlp_engine.process_text("Called Dr. Okafor at home.", "en")
    assert not any(artifacts.lemmas)  # no lemmatizer runs
    _lower_case_lemmas(deidentifier.analyzer, artifacts)
    assert artifacts.lemmas[:3] == ["called", "dr.", "okafor"]
    assert "called" in artifacts.keywords


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Was stable at BXH overnight. Needs to leave BXH for surgery.", ["BXH", "BXH"]),
        ("foley to cd, ngt to lws, weaned from NRB to NC.", []),
        ("Sent to Mercy Grant ED with chest pain.", ["Mercy Grant"]),
        ("pt was in St Brigid HOSPITAL with fever.", ["St Brigid HOSPITAL"]),
        ("belongings found from brixworth 5.", ["brixworth"]),
        ("PT WAS TAKEN TO ELMFORD CROSS HOSPITAL LAST NIGHT.", ["ELMFORD CROSS HOSPITAL"]),
        ("Pt taken to OR, then sent to acute rehab.", []),
    ],
    ids=[
        "hospital-initials",
        "drains-and-oxygen",
        "census-names-after-move",
        "title-case-in-uncased-note",
        "ward-at-sentence-end",
        "hospital-of-english-words",
        "clinical-destinations",
    ],
)
def test_hospitals_and_wards(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "LOCATION") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PMH: CABG 81, Redo CABG 04, MI 2004; HTN.", ["81", "04", "2004"]),
        ("VS: HR 81, BP 120/60, RR 18.", []),
        ("s/p stent x2 8/7. Transfer planned.", ["8/7"]),
    ],
    ids=["history-years", "vital-signs", "after-a-count"],
)
def test_history_dates(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "DATE") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("glucose covered per carol lindqvist np.", ["carol lindqvist"]),
        ("daughter and son at bedside, son called twice.", []),
        ("GET PA NUMBERS AND CO/CI.", []),
    ],
    ids=["first-name-after-per", "kinship-words", "pulmonary-artery-numbers"],
)
def test_first_names_after_cues(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "PERSON") == expected


@pytest.mark.parametrize(
    ("text", "entity", "expected"),
    [
        ("Her sister Grace flew in from Boston last night.", "PERSON", ["Grace"]),
        ("Her sister Grace flew in from Boston last night.", "LOCATION", ["Boston"]),
        ("Neuro - Alert, oriented x3. Husband called.", "PERSON", []),
        ("Wheezes in the L Lung, R Lung clear.", "LOCATION", []),
        ("Cont in sinus brady. Nitro gtt off.", "LOCATION", []),
        ("Grace Talbot called twice about the results.", "PERSON", ["Grace Talbot"]),
        ("Fecal Bag applied and draining.", "PERSON", []),
    ],
    ids=[
        "first-name-word",
        "town-word",
        "heading-dash",
        "side-of-lung",
        "clinical-towns",
        "name-at-sentence-start",
        "heading-at-sentence-start",
    ],
)
def test_spacy_spans_in_cased_text(deidentifier, text: str, entity: str, expected: list) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, entity) == expected


@pytest.mark.parametrize(
    ("text", "entity", "expected"),
    [
        ("Wife Jane Roe at bedside. Later ROE, JANE called back.", "PERSON",
         ["Jane Roe", "ROE", "JANE"]),
        ("Met with Dr. Ellis (attending) about pt Vikram Ellis.", "PERSON",
         ["Ellis", "Vikram Ellis"]),
        ("Dr. Hartwell updated Marisol.", "PERSON", ["Hartwell", "Marisol"]),
        ("Pt's niece (Octavia Pemberly) called.", "PERSON", ["Octavia Pemberly"]),
        ("Seen by Dr. May this morning.", "PERSON", ["May"]),
        ("Husband Tobias Okafor at bedside.", "PERSON", ["Tobias Okafor"]),
        ("SON DESMOND OKONKWO CALLED.", "PERSON", ["DESMOND OKONKWO"]),
        ("Pt was seen by NP L. Okafor.", "PERSON", ["L. Okafor"]),
        ("DAUGHTER LUCINDA IN TO VISIT. LUCINDA IS HCP.", "PERSON", ["LUCINDA", "LUCINDA"]),
        ("Yankauer at bedside, x-ray done.", "PERSON", []),
        ("PT LIVES IN WORCESTER WITH WIFE.", "LOCATION", ["WORCESTER"]),
        ("Lives at 118 Larkspur Lane, Apt 4B, Elmford, WI 53809.", "LOCATION",
         ["118 Larkspur Lane", "Apt 4B", "Elmford", "53809"]),
        ("TRANSFERRED TO 7 BRIXWORTH FROM MICU.", "LOCATION", ["BRIXWORTH"]),
    ],
    ids=[
        "short-name-other-case",
        "given-name-before-spread-surname",
        "name-after-updated",
        "relative-in-parentheses",
        "stop-word-after-title",
        "husband-trimmed",
        "son-not-joined",
        "role-trimmed",
        "one-type-per-name",
        "suction-device",
        "residence-upper",
        "address-town-state-zip",
        "floor-before-ward",
    ],
)  # fmt: skip
def test_review_findings(deidentifier, text: str, entity: str, expected: list) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, entity) == expected


def test_birth_date_over_89_is_redacted(deidentifier) -> None:  # type: ignore[no-untyped-def]
    old = deidentifier.deidentify("92 yo woman, DOB 02/03/1931, admitted 03/14/2021.", "p")
    assert "DOB [DATE]," in old.text
    assert "1931" not in old.text
    assert "1930" not in old.text
    young = deidentifier.deidentify("DOB: 02/03/1961. Admitted 03/14/2021.", "p")
    assert "[DATE]" not in young.text
    assert "02/03/1961" not in young.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("83 yo man who presented to elmford cross hospital with sob.", ["elmford cross hospital"]),
        (
            "PT FLOWN TO MEMORIAL HOSPITAL FOR CATH, RETURNED AT NOON.",
            ["MEMORIAL HOSPITAL"],
        ),
        ("Family drove him to outside hospital last week for a rash.", []),
        ("Pt presented to the ED with chest pain and sob.", []),
        ("ASSESS: STABLE. PLAN: MOVE TO QUARTERDECK 6 WHEN A BED OPENS.", ["QUARTERDECK"]),
        ("goal is brixworth 4 once bed ready; keep npo.", ["brixworth"]),
        ("goal is floor 5 once bed ready; keep npo.", []),
        ("SISTER VISITING FROM CAPE COD- WILL STAY NEARBY.", ["CAPE COD"]),
        (
            "Spent the summer on the Outer Banks. Lives in Worcester County.",
            ["Outer Banks", "Worcester County"],
        ),
        ("CT showed a central mass near the south wall of the heart.", []),
    ],
    ids=[
        "lower-case-hospital",
        "memorial-hospital",
        "outside-hospital",
        "presented-to-ed",
        "ward-before-bed",
        "ward-before-bed-no-to",
        "floor-before-bed",
        "region-with-dash",
        "region-and-county",
        "look-alike-regions",
    ],
)
def test_hospitals_regions_and_planned_wards(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "LOCATION") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rounds done with Dr. o malley and Dr. Hartwell at noon.", ["o malley", "Hartwell"]),
        ("Social: Brother, Ed, called this evening and will visit.", ["Ed"]),
        ("Sent in by son, ED, then admitted to the floor.", []),
        ("hcp forms signed by his children: okafor and brixa", ["okafor", "brixa"]),
        ("Seen by Dr. Okafor and Cardiology this am.", ["Okafor"]),
        ("Plan per Dr. Hartwell and Lasix 40 iv given.", ["Hartwell"]),
        ("extubation plan per ruth hartwell; sedation held.", ["ruth hartwell"]),
        ("quiet night. grace visited after supper and left at 9.", ["grace"]),
        ("Family visited. Son called. Pt stated she is fine.", []),
        ("BP LOW, M BAKER ORDERED A FLUID BOLUS.", ["M BAKER"]),
        ("R ARM AWARE OF PLAN. X RAY ORDERED. L HAND NOTIFIED. MOM CALLED.", []),
        ("pt's pain reviewed with ruth brixwold this am", ["ruth brixwold"]),
        ("I HOPE YOU'RE FEELING BETTER TODAY. NO PAIN.", []),
    ],
    ids=[
        "irish-o-name",
        "relative-between-commas",
        "emergency-department",
        "names-joined-by-and",
        "service-after-and",
        "drug-after-and",
        "first-name-before-surname",
        "first-name-before-verb",
        "no-name-before-verb",
        "initial-and-surname-before-ordered",
        "clinical-letters-before-cues",
        "first-name-and-unknown-word",
        "contraction",
    ],
)
def test_names_next_to_names_and_verbs(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "PERSON") == expected


def test_weaker_span_keeps_its_uncovered_words() -> None:
    from presidio_analyzer import RecognizerResult

    from deidentify.deidentifier import _resolve_overlaps

    text = "plan per ruth hartwell today"
    start = text.index("ruth")
    person = RecognizerResult("PERSON", start, start + len("ruth hartwell"), 0.6)
    place = RecognizerResult("LOCATION", start + len("ruth "), person.end, 0.85)
    kept = _resolve_overlaps(text, [person, place])
    assert [(r.entity_type, text[r.start : r.end]) for r in kept] == [
        ("PERSON", "ruth"),
        ("LOCATION", "hartwell"),
    ]
    # A piece cut inside a word ("ru" before "th hartwell") is dropped, not kept as a fragment.
    partial = RecognizerResult("LOCATION", start + len("ru"), person.end, 0.85)
    kept = _resolve_overlaps(text, [person, partial])
    assert [text[r.start : r.end] for r in kept] == ["th hartwell"]
    # Without an overlap a span is kept as found, punctuation included.
    alone = RecognizerResult("PERSON", start, start + len("ruth "), 0.6)
    assert [(r.start, r.end) for r in _resolve_overlaps(text, [alone])] == [
        (alone.start, alone.end)
    ]


def test_two_digit_year_after_written_date(deidentifier) -> None:  # type: ignore[no-untyped-def]
    text = "Shift note 14 Mar, 19 0700-1900\nGiven 3 May, 12 mg of morphine."
    assert detected(deidentifier, text, "DATE") == ["14 Mar, 19", "3 May"]


@pytest.mark.parametrize(
    ("text", "entity", "expected"),
    [
        ("Pt's sister called from Bermuda, updated by RN.", "PERSON", []),
        ("Transferred to our hospital, then to psych hospital.", "LOCATION", []),
        ("Pt went to state hospital and later to acute care hospital.", "LOCATION", []),
        (
            "Pt admitted from MD Hospital at 1900 and sent to the floor.",
            "LOCATION",
            ["MD Hospital"],
        ),
        ("goal is medicine 7 once bed ready; keep npo.", "LOCATION", []),
        ("X RAY CAME IN. A GUY CAME IN. TEMP ROSE CALLED MD. J WIRE ORDERED.", "PERSON", []),
        ("Seen by Dr. Okafor and NSGY this morning.", "PERSON", ["Okafor"]),
        (
            "K. BELL AWARE OF K 3.1. ROSE STATES SHE WILL BRING THE PAPERS.",
            "PERSON",
            ["K. BELL", "ROSE"],
        ),
        ("LONG ISLAND OF NECROSIS ON SACRUM, BIG ISLAND OF GRANULATION.", "LOCATION", []),
        ("FAMILY DROVE UP FROM THE OUTER BANKS LAST NIGHT.", "LOCATION", ["OUTER BANKS"]),
        (
            "Shift note 14 Mar, 19\r\nPt seen 3 Apr, 18. Given 2 May, 40 mg.",
            "DATE",
            ["14 Mar, 19", "3 Apr, 18", "2 May"],
        ),
    ],
    ids=[
        "country-typed-person",
        "kinds-of-hospital",
        "more-kinds-of-hospital",
        "hospital-initials",
        "service-before-bed",
        "letters-articles-and-vitals-before-verbs",
        "abbreviation-after-and",
        "initial-with-period-and-present-tense",
        "english-regions-without-cue",
        "english-region-after-locative",
        "short-years-at-line-and-sentence-ends",
    ],
)
def test_review_findings_for_new_rules(
    deidentifier, text: str, entity: str, expected: list
) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, entity) == expected


def test_lone_surrogate_is_replaced_not_raised(deidentifier) -> None:  # type: ignore[no-untyped-def]
    text = "Dr. Okafor \ud800 saw the patient with Ms. Hartwell."
    result = deidentifier.deidentify(text, patient_id="p-odd")
    assert "Okafor" not in result.text
    assert "Hartwell" not in result.text
    assert "\ufffd" in result.text
    result.text.encode("utf-8")  # raises if a lone surrogate is left


def test_state_name_does_not_hide_a_person(deidentifier) -> None:  # type: ignore[no-untyped-def]
    # spaCy may type "Georgia" a place inside a care-team name; the state filter must not then
    # leave the whole name in the text.
    text = "Spoke with Georgia Okafor about her mother's plan today."
    result = deidentifier.deidentify(text, patient_id="p-state")
    assert "Georgia" not in result.text
    assert "Okafor" not in result.text


@pytest.mark.parametrize(
    "text",
    [
        "Seen by Dr. Oka\u200bfor today with the family.",
        "Seen by Dr. Ok\u0301afor today with the family.",
        "Seen by Dr. \uff2f\uff4b\uff41\uff46\uff4f\uff52 today with the family.",
    ],
    ids=["zero-width-space", "combining-accent", "full-width-letters"],
)
def test_invisible_and_full_width_characters_hide_no_name(deidentifier, text: str) -> None:  # type: ignore[no-untyped-def]
    result = deidentifier.deidentify(text, patient_id="p-unicode")
    letters = "".join(char for char in result.text if char.isascii() and char.isalpha()).lower()
    assert "afor" not in letters
    assert "okafor" not in unicodedata.normalize("NFKC", result.text).lower()
    assert result.text.endswith("today with the family.")


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("Call Dr. Okafor\u200b617-555-0199 today.", ["Okafor", "617", "0199"]),
        ("Call 617\u200b-555-01\u200b99 today.", ["617", "0199", "01\u200b99"]),
        ("MRN 4417\u200b283 on file.", ["4417", "283"]),
        ("Member ID: XKH\u200b4471920 on file.", ["4471920"]),
        ("Seen by Dr. Oka\u200ffor and Dr. Oka\u034ffor today.", ["Oka", "for "]),
        (
            "Member ID: XKH\uff14\uff14\uff17\uff11\uff19\uff12\uff10 on file.",
            ["\uff14\uff14\uff17"],
        ),
        ("Seen by Dr. N\u00fa\u00f1ez and Dr. Gri\ufb03th today.", ["\u00fa\u00f1", "\ufb03th"]),
        ("Dr. Okafor 617-555-0199", ["Okafor", "617-555", "0199"]),
    ],
    ids=[
        "zero-width-between-name-and-phone",
        "zero-width-inside-phone",
        "zero-width-inside-record-number",
        "zero-width-inside-code",
        "direction-and-joiner-marks",
        "full-width-digits",
        "non-ascii-letters-in-names",
        "phone-after-name",
    ],
)
def test_identifier_hidden_by_unicode_is_replaced(
    deidentifier, text: str, hidden: list[str]
) -> None:  # type: ignore[no-untyped-def]
    result = deidentifier.deidentify(text, patient_id="p-hidden")
    for value in hidden:
        assert value not in result.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Last seen in clinic 11/21.93 for follow-up.", ["11/21.93"]),
        ("Oriented x3, states it's 2019 and knows the month.", ["2019"]),
        ("Asked the year, said its 1998.", ["1998"]),
        ("INITIAL VENT SETTINGS 650X10X100%X5/5.02 NOW.", []),
        ("Takes 1/2.5 mg tab at night.", []),
        ("Its 2000 hrs dose given.", []),
        ("Seen in clinic 11/21.93, then 11/30.93.", ["11/21.93", "11/30.93"]),
        ("Fluid restriction: its 2000 mL/day; it is 1800 kcal.", []),
    ],
    ids=[
        "decimal-before-year",
        "year-after-its",
        "year-after-misspelled-its",
        "ventilator-decimal",
        "fraction-decimal",
        "clock-time-after-its",
        "dotted-dates-before-punctuation",
        "volumes-after-its",
    ],
)
def test_dotted_dates_and_stated_years(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "DATE") == expected


def test_rare_sense_first_names_are_names() -> None:
    # web2 lists "nancy" and "mary" in lower case; a note means the person.
    assert not is_english("nancy")
    assert not is_english("MARY")
    # First names whose word sense is common stay words.
    for word in ("rose", "hope", "mark", "amber", "iris", "frank"):
        assert is_english(word), word
    # A rare-sense name is no inflected word ("sal" + "ly", "home" + "r").
    assert not is_english("SALLY")
    assert not is_english("homer")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "PT TO BE SEEN BY CASE MANAGEMENT ON MONDAY (NANCY IS ON VACATION). FAMILY AWARE OF "
            "PLAN. BP ROSE TO 150 AFTER TURNING, NO HOPE OF WEANING TODAY.",
            ["NANCY"],
        ),
        ('S: "Nancy, I know where I am." O: calm.', ["Nancy"]),
        ('S: "Okay, I know where I am." Hi Doctor, see the plan.', []),
        ("PT HAS TIMOTHY GRASS ALLERGY. ANA POSITIVE, RF NEG. ECHO: SAM OF MITRAL VALVE.", []),
        ("PT SEEN BY KELLY, RN. MORGAN LENS PLACED. PILLS GIVEN IN DIXIE CUP.", ["KELLY"]),
        ("Regina from case management called. BP ROSE FROM 120 TO 150.", ["Regina"]),
        ("Regina called back at 3pm.", ["Regina"]),
    ],
    ids=[
        "upper-case-first-name",
        "name-addressed-in-quote",
        "addressed-words-that-are-no-names",
        "clinical-senses-of-first-names",
        "staff-name-and-clinical-name-phrases",
        "first-name-from-a-service",
        "town-name-before-a-verb",
    ],
)
def test_first_names_without_cues(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "PERSON") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('S: "Nancy, I know where I am."', ["Nancy"]),
        ("Hi Okafor, the labs are back.", ["Okafor"]),
        ('S: "Okay, I know." Hi Doctor, thanks. Hi Mom, hello.', []),
        ("Dear Rose, the results are back.", ["Rose"]),
        ("Pt states 'Vance, bring my phone'. Hey Lindqvist , call back.", ["Vance", "Lindqvist"]),
    ],
    ids=[
        "first-name-in-quote",
        "surname-after-greeting",
        "words-after-greetings",
        "word-name",
        "single-quotes-and-space-before-comma",
    ],
)
def test_addressed_names(text: str, expected: list[str]) -> None:
    from deidentify.recognizers.name import TitledNameRecognizer

    results = TitledNameRecognizer().analyze(text, ["PERSON"])
    addressed = [
        text[r.start : r.end]
        for r in results
        if r.analysis_explanation and r.analysis_explanation.pattern_name == "name_addressed"
    ]
    assert addressed == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mail goes to 27 Alder St., Apt. 4B.", ["27 Alder St.", "Apt. 4B"]),
        ("Her office: 9 Brixworth Ave Suite 300.", ["9 Brixworth Ave", "Suite 300"]),
        (
            "Send records to P.O. Box 255 or PSC 6477, Box 2981.",
            ["P.O. Box 255", "PSC 6477, Box 2981"],
        ),
        ("Lives at 9 Brixworth Crossing with his son.", ["9 Brixworth Crossing"]),
        ("Lives at Elmfordstrasse 12 with his son.", ["Elmfordstrasse 12"]),
        ("Address: Höfðagata 39 and Brixvej 4.", ["Höfðagata 39", "Brixvej 4"]),
        ("Visiting from Via Elmford Brixa 71 this week.", ["Via Elmford Brixa 71"]),
        ("Moved from ul. Brixa 53 last year.", ["ul. Brixa 53"]),
        ("Via NGT 20 mL flush given. Necktie 2 noted.", []),
        ("Transferred to unit 4 today; Suite 3.5 mg order clarified.", []),
        ("PT LIVES AT 88 BRIXWORTH TRAIL WITH SON.", ["88 BRIXWORTH TRAIL"]),
        ("Lives at 1200 N Okafor Ave. with her son.", ["1200 N Okafor Ave."]),
        (
            "Lives at 221B Hartwell Street or 12-14 Elmford Road.",
            ["221B Hartwell Street", "12-14 Elmford Road."],
        ),
        ("O2 Via Nasal Cannula 2 L/min. Fed Via Gastrostomy Tube 3 times daily.", []),
        ("f/u apt 3 wks; apt 12/3 at 10am; OR suite 3; STE 2 mm in V2.", []),
        ("f/u with cardiology, apt 10 am. Transferred to OR, suite 3 at 0800.", []),
        (
            "Completed 6 Minute Walk Test. BOWTIE 2 FRACTURE. Per Okafor et al. Circulation 2019.",
            [],
        ),
    ],
    ids=[
        "apartment",
        "suite",
        "post-boxes",
        "us-street-type",
        "suffix-street",
        "any-script-suffix-street",
        "prefix-street",
        "prefix-abbreviation",
        "clinical-look-alikes",
        "hospital-unit-and-decimal",
        "upper-case-spelled-out-type",
        "direction-letter",
        "letter-and-range-house-numbers",
        "prefix-type-before-english-words",
        "appointment-suite-and-st-elevation",
        "appointment-and-suite-after-comma",
        "walk-test-suffix-word-and-citation",
    ],
)
def test_address_layouts(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "LOCATION") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("She grew up in Aalborg and moved here.", ["Aalborg"]),
        ("Originally from Poznań, she works nights.", ["Poznań"]),
        ("He is visiting from Tromsø with family.", ["Tromsø"]),
        ("Seen in March; IgA deficiency noted; soaks in Epsom salt.", []),
        ("PT WITH IGA DEFICIENCY, SOAKS IN EPSOM SALT. AUS NOTED.", []),
        ("Hx of Polycythemia Vera; Padua score 5; Lugano stage III; Started Metro 500 mg.", []),
        ("VTE risk high at Padua score 5. Restaged according to Lugano criteria.", []),
        ("Grew up in Foster Care; visiting from Rehab; relocated to Room 12.", []),
    ],
    ids=[
        "town-outside-the-us",
        "origin-any-script",
        "visiting-from",
        "cased-look-alikes",
        "upper-case",
        "eponyms-without-locative",
        "eponyms-after-locative",
        "origin-cues-before-english-words",
    ],
)
def test_towns_outside_the_united_states(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert detected(deidentifier, text, "LOCATION") == expected


def test_addresses_absent_from_output_and_logs(deidentifier, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    caplog.set_level(logging.DEBUG)
    parts = ["Apt. 4B", "P.O. Box 255", "Elmfordstrasse 12", "Via Elmford Brixa 71", "Aalborg"]
    text = (
        f"Lives at {parts[2]}, {parts[0]}; mail to {parts[1]}. "
        f"Sister at {parts[3]}. Grew up in {parts[4]}."
    )
    result = deidentifier.deidentify(text, patient_id="patient-7")
    trace = repr([span.to_json() for span in result.spans])
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for part in parts:
        assert part not in result.text
        assert part not in logged
        assert part not in trace
    for word in ("Elmfordstrasse", "Brixa", "255", "4B"):
        assert word not in result.text


def test_no_initial_after_a_slash(deidentifier) -> None:  # type: ignore[no-untyped-def]
    text = "d/w Hartwell, NP, plan unchanged."
    assert detected(deidentifier, text, "PERSON") == ["Hartwell"]
