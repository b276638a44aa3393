"""A synthetic clinical corpus with planted PHI and reference summaries.

The corpus lets the main command and the tests run on a fresh clone with no data at all. Every
name, number and date here is invented. Each record stores the identifiers planted in it under
`meta["planted_phi"]`, so tests can check that none of them survives de-identification.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from medsum.records import TASK_SECTION, Record

FIRST_NAMES = [
    "Alice", "Marcus", "Priya", "Tomasz", "Yolanda", "Kenji", "Fatima", "Grant", "Ingrid",
    "Oluwaseun", "Rosa", "Declan", "Mei", "Harold", "Leticia", "Sven",
]  # fmt: skip
LAST_NAMES = [
    "Whitfield", "Okafor", "Lindqvist", "Quintanilla", "Castellano", "Nakamura", "Brennan",
    "Haddad", "Kowalczyk", "Abernathy", "Delacroix", "Fairbanks", "Mbeki", "Thorncastle",
    "Vasconcellos", "Ostrowski",
]  # fmt: skip
CITIES = ["Springfield", "Riverton", "Lakewood", "Fairview", "Georgetown", "Milton"]
CONDITIONS = [
    ("hypertension", "lisinopril 10 mg daily"),
    ("type 2 diabetes", "metformin 500 mg twice daily"),
    ("asthma", "albuterol inhaler as needed"),
    ("hypothyroidism", "levothyroxine 75 mcg daily"),
    ("atrial fibrillation", "apixaban 5 mg twice daily"),
    ("migraine", "sumatriptan 50 mg as needed"),
    ("GERD", "omeprazole 20 mg daily"),
    ("hyperlipidemia", "atorvastatin 40 mg nightly"),
]
COMPLAINTS = [
    ("chest tightness", "two days"),
    ("a persistent cough", "one week"),
    ("lower back pain", "three weeks"),
    ("headaches", "five days"),
    ("shortness of breath on exertion", "a month"),
    ("abdominal pain", "four days"),
]
ALLERGENS = ["penicillin", "sulfa drugs", "latex", "shellfish", "codeine"]


def _phone(rng: random.Random) -> str:
    return f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}"


def _mrn(rng: random.Random) -> str:
    return f"MRN {rng.randint(1000000, 9999999)}"


def _visit_date(rng: random.Random) -> date:
    return date(2019, 1, 1) + timedelta(days=rng.randint(0, 5 * 365))


def _make_record(index: int, rng: random.Random) -> Record:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    doctor = rng.choice(LAST_NAMES)
    while doctor == last:
        doctor = rng.choice(LAST_NAMES)
    age = rng.randint(24, 86)
    sex = rng.choice(["male", "female"])
    condition, medication = rng.choice(CONDITIONS)
    complaint, duration = rng.choice(COMPLAINTS)
    allergen = rng.choice(ALLERGENS)
    visit = _visit_date(rng)
    visit_text = visit.strftime("%m/%d/%Y")
    phone = _phone(rng)
    mrn = _mrn(rng)
    city = rng.choice(CITIES)
    email = f"{first.lower()}.{last.lower()}@example.org"
    section = rng.choice(["GENHX", "MEDICATIONS", "ALLERGY"])

    dialogue = "\n".join(
        [
            f"Doctor: Good morning, I'm Doctor {doctor}. Can you confirm your name for me?",
            f"Patient: Yes, it's {first} {last}. My record number is {mrn}.",
            f"Doctor: Thank you, Mr. or Ms. {last}. Today is {visit_text}. What brings you in?",
            f"Patient: I've had {complaint} for about {duration}.",
            f"Doctor: How old are you now, {first}?",
            f"Patient: I'm {age}. I live over in {city}.",
            "Doctor: Do you have any medical problems?",
            f"Patient: I have {condition}, and I take {medication}.",
            "Doctor: Any allergies to medications?",
            f"Patient: Yes, I'm allergic to {allergen}.",
            f"Doctor: What's the best number to reach you? Is it still {phone}?",
            f"Patient: Yes. You can also email me at {email}.",
        ]
    )
    if section == "GENHX":
        summary = (
            f"The patient is a {age}-year-old {sex} with a history of {condition} who presents "
            f"with {complaint} for {duration}."
        )
    elif section == "MEDICATIONS":
        summary = medication[0].upper() + medication[1:] + "."
    else:
        summary = f"Allergic to {allergen}."
    return Record(
        id=f"synthetic-{index:05d}",
        text=dialogue,
        patient_id=f"patient-{index:05d}",
        summary=summary,
        task=TASK_SECTION,
        section=section,
        meta={"planted_phi": [first, last, doctor, mrn, visit_text, phone, city, email]},
    )


def generate_corpus(count: int, seed: int = 0) -> list[Record]:
    """Generate `count` synthetic dialogue records; the same seed gives the same corpus."""
    if count < 1:
        raise ValueError(f"synthetic corpus size must be at least 1, got {count}")
    rng = random.Random(seed)
    return [_make_record(index, rng) for index in range(count)]
