"""Property tests: identifiers planted in generated notes never survive de-identification.

Names come from a pool of invented given names and surnames. They are placed only in contexts
that medsum's recognizers cover (titles, introductions, labelled numbers, dates, e-mail, phone
numbers), so a failure here is a real gap in one of those recognizers.
"""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

GIVEN = [
    "Ottilie",
    "Bartholomew",
    "Saoirse",
    "Thaddeus",
    "Zenobia",
    "Ignatius",
    "Marisol",
    "Leopold",
]
FAMILY = [
    "Quackenbush",
    "Okonkwo",
    "Vanterpool",
    "Szymanski",
    "Abernethy",
    "Delacroix",
    "Whitcombe",
]

names = st.tuples(st.sampled_from(GIVEN), st.sampled_from(FAMILY))
dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31))
mrns = st.integers(min_value=1_000_000, max_value=99_999_999)
phones = st.tuples(st.integers(200, 989), st.integers(200, 999), st.integers(0, 9999)).map(
    lambda p: f"({p[0]}) {p[1]}-{p[2]:04d}"
)
templates = st.sampled_from(
    [
        "Doctor: Hello, I'm Dr. {family}.\nPatient: Hi, my name is {given} {family2}.",
        "Seen by Dr. {family} on {date}. MRN {mrn}. Mr. {family2} reports a cough.",
        "Patient: It's {given} {family2}. Call me at {phone} or {email}.\nDoctor: Noted, {date}.",
        "Mrs. {family2} was admitted {date}, medical record number: {mrn}. Contact {phone}.",
    ]
)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(template=templates, clinician=names, patient=names, day=dates, mrn=mrns, phone=phones)
def test_planted_identifiers_never_survive(
    deidentifier, template, clinician, patient, day, mrn, phone
) -> None:  # type: ignore[no-untyped-def]
    email = f"{patient[0].lower()}.{patient[1].lower()}@example.net"
    note = template.format(
        family=clinician[1], given=patient[0], family2=patient[1], date=day.strftime("%m/%d/%Y"),
        mrn=mrn, phone=phone, email=email,
    )  # fmt: skip
    result = deidentifier.deidentify(note, patient_id="p")
    planted = [
        clinician[1],
        patient[0],
        patient[1],
        day.strftime("%m/%d/%Y"),
        str(mrn),
        phone,
        email,
    ]
    for value in planted:
        if value in note:
            assert value not in result.text


@given(shift_base=dates, gap=st.integers(min_value=0, max_value=2000))
def test_date_shift_keeps_intervals(shift_base, gap) -> None:  # type: ignore[no-untyped-def]
    from datetime import datetime

    from deidentify.surrogates import SurrogateGenerator

    generator = SurrogateGenerator(b"s" * 32)
    patient = generator.pseudonym("patient-1")
    later = shift_base + timedelta(days=gap)
    first = generator.surrogate("DATE", shift_base.strftime("%m/%d/%Y"), patient)
    second = generator.surrogate("DATE", later.strftime("%m/%d/%Y"), patient)
    interval = datetime.strptime(second, "%m/%d/%Y") - datetime.strptime(first, "%m/%d/%Y")
    assert interval.days == gap


# Nursing-note contexts, written as typed, in capitals or in lower case. The places are invented
# words that no lexicon holds.
PLACES = ["Brixworth", "Elmford", "Quarrington", "Wexcombe"]
STREETS = ["Alder", "Quince", "Larchmont", "Tamarisk"]
nursing_templates = st.sampled_from(
    [
        "K repleted per {initial}. {family} NP. Transferred to {place} 3 this am.",
        "Plan discussed with Drs. {family} and {family2}. Pt lives at {number} {street} St.",
        "PMH: CABG '{year}, MI {year4}. Seen by Dr.{family} on {date}.",
        "Daughter {given} at bedside. Pt admitted from {place} Hospital on {date}.",
        "Reported to {initial}. {family}, who will call {given} {family2} (son) at {phone}.",
    ]
)
letter_cases = st.sampled_from(["as written", "upper", "lower"])


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    template=nursing_templates,
    clinician=names,
    patient=names,
    place=st.sampled_from(PLACES),
    street=st.sampled_from(STREETS),
    number=st.integers(min_value=2, max_value=9999),
    day=dates,
    phone=phones,
    case=letter_cases,
)
def test_nursing_note_identifiers_never_survive(
    deidentifier, template, clinician, patient, place, street, number, day, phone, case
) -> None:  # type: ignore[no-untyped-def]
    values = {
        "initial": clinician[0][0], "family": clinician[1], "family2": patient[1],
        "given": patient[0], "place": place, "street": street, "number": number,
        "year": f"{day.year % 100:02d}", "year4": day.year, "date": day.strftime("%m/%d/%Y"),
        "phone": phone,
    }  # fmt: skip
    note = template.format(**values)
    if case == "upper":
        note = note.upper()
    elif case == "lower":
        note = note.lower()
    result = deidentifier.deidentify(note, patient_id="p")
    planted = [clinician[1], patient[0], patient[1], place, street, phone, values["date"]]
    for value in planted:
        for written in (value, value.upper(), value.lower()):
            if written in note:
                assert written not in result.text
    if f"'{values['year']}" in note:
        assert f"'{values['year']}" not in result.text
