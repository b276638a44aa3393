"""Labelled identifier codes: health plan, account, licence, vehicle, device and other numbers.

Every code here is made up. Each table has rows that must stay: clinical phrases that share a
label word ("serial exams", "group 2 strep", "account for") or carry a number that is no code.
"""

import logging

import pytest

from deidentify.recognizers.identifier import IdentifierRecognizer, is_valid_vin
from deidentify.surrogates import CODE_ENTITIES, SurrogateGenerator, normalize_value

# A VIN whose check digit (position 9, "3") is right; changing any character breaks it.
VALID_VIN = "1HGCM82633A004352"


def found(text: str) -> list[tuple[str, str]]:
    recognizer = IdentifierRecognizer()
    results = recognizer.analyze(text, list(recognizer.ENTITIES))
    return [(r.entity_type, text[r.start : r.end]) for r in results]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Member ID: XKH4471920 on file.", [("HEALTH_PLAN_NUMBER", "XKH4471920")]),
        ("Medicaid # 0012345678, copay waived.", [("HEALTH_PLAN_NUMBER", "0012345678")]),
        ("INSURANCE NO. BCX-88123-04", [("HEALTH_PLAN_NUMBER", "BCX-88123-04")]),
        ("per hospital policy #qz41, at 1400", [("HEALTH_PLAN_NUMBER", "qz41")]),
        ("acct # 88120374 billed", [("ACCOUNT_NUMBER", "88120374")]),
        ("FIN: 100234556", [("ACCOUNT_NUMBER", "100234556")]),
        ("my card 2623322164608847 expired", [("ACCOUNT_NUMBER", "2623322164608847")]),
        ("credit card number is 630427373398.", [("ACCOUNT_NUMBER", "630427373398")]),
        ("cards 2 and 3; 20 cc 1500 given; card q4hr", []),
        (
            "Paid with card # 4111 1111 1111 1112 exp 09/27",
            [("ACCOUNT_NUMBER", "4111 1111 1111 1112")],
        ),
        ("Per sliding scale card 151-200 give 2 units; insurance card 12345", []),
        (
            "Visa 4111 1111 1111 1112; card no. 5500.0000.0000.0005",
            [("ACCOUNT_NUMBER", "4111 1111 1111 1112"), ("ACCOUNT_NUMBER", "5500.0000.0000.0005")],
        ),
        ("Hourly UO cc: 40 35 30 45 50 25; I/O CC: 100 200 150 250 300 175", []),
        ("DL# S530-4417-2291 copied", [("LICENSE_NUMBER", "S530-4417-2291")]),
        ("license no. RN228841", [("LICENSE_NUMBER", "RN228841")]),
        ("her driver's license number is 7731046", [("LICENSE_NUMBER", "7731046")]),
        (f"VIN {VALID_VIN} in the report", [("VEHICLE_ID", VALID_VIN)]),
        (f"car {VALID_VIN} parked", [("VEHICLE_ID", VALID_VIN)]),
        ("license plate 7XKR221 noted by EMS", [("VEHICLE_ID", "7XKR221")]),
        ("pacemaker serial # PJN448812", [("DEVICE_ID", "PJN448812")]),
        ("S/N 88-23117 on the pump", [("DEVICE_ID", "88-23117")]),
        ("case # 24-1187 opened", [("ID_NUMBER", "24-1187")]),
        ("passport X1234567 shown", [("ID_NUMBER", "X1234567")]),
        ("serial exams; serial 7s intact; account for losses; policy is to call", []),
        ("group 2 strep, visit #2, plate count 150, SN in the 70s", []),
        ("Medicare 2019 enrollment, case # 12", []),
        ("car 1HGCM82633A004353 parked", []),
        (
            "Policy: XKH4471920; S/N: PJN448812",
            [("HEALTH_PLAN_NUMBER", "XKH4471920"), ("DEVICE_ID", "PJN448812")],
        ),
        (
            "model 5076, serial # PJN448812; subscriber QRT5512",
            [("DEVICE_ID", "PJN448812"), ("HEALTH_PLAN_NUMBER", "QRT5512")],
        ),
        ("Plan no 24hr urine; glucose mg/dl: 140s; serial 100-7 intact", []),
        ("Plan: D5NS. Serial: CD4/VL. Device: HeartMate3. Visit: 6-8wks. Group: G6PD.", []),
        ("serial q4hr neuro checks; Encounter: 100-200mg; Registration: T2DM", []),
    ],
    ids=[
        "member-id",
        "medicaid",
        "insurance-upper-case",
        "policy-code",
        "account",
        "fin",
        "card",
        "credit-card-number",
        "card-look-alikes",
        "card-in-groups",
        "scale-card-and-short-numbers",
        "brand-and-dotted-card",
        "cc-volumes",
        "driver-licence",
        "licence",
        "licence-number-is",
        "labelled-vin",
        "bare-vin",
        "licence-plate",
        "device-serial",
        "serial-abbreviation",
        "case-number",
        "passport",
        "label-words-without-codes",
        "counts-and-rhythms",
        "year-and-short-number",
        "vin-with-wrong-check-digit",
        "label-and-colon",
        "label-and-space",
        "quantities-after-labels",
        "note-headings-as-labels",
        "frequencies-and-dose-ranges",
    ],
)
def test_identifier_codes(text: str, expected: list[tuple[str, str]]) -> None:
    # A labelled VIN is found twice (label and check digit); the de-identifier merges them.
    assert sorted(set(found(text))) == sorted(expected)


def test_vin_check_digit() -> None:
    assert is_valid_vin(VALID_VIN)
    assert not is_valid_vin(VALID_VIN[:8] + "4" + VALID_VIN[9:])
    assert not is_valid_vin("ABCDEFGHJKLMNPRST")  # no digit
    assert not is_valid_vin(VALID_VIN[:-1])


@pytest.mark.parametrize("entity", sorted(CODE_ENTITIES))
def test_code_surrogate_keeps_layout(entity: str) -> None:
    generator = SurrogateGenerator(b"k" * 32)
    for code in ("XKH4471920", "s530-4417-2291", "QZ41", "88-23117"):
        surrogate = generator.surrogate(entity, code, "patient-1")
        assert surrogate != code
        assert len(surrogate) == len(code)
        for before, after in zip(code, surrogate, strict=True):
            assert before.isdigit() == after.isdigit()
            assert before.isupper() == after.isupper()
            if not before.isalnum():
                assert before == after
        # Spelling variants of one code share a surrogate for one patient, not across patients.
        assert generator.surrogate(entity, code.upper(), "patient-1") == surrogate.upper()
        assert generator.surrogate(entity, code, "patient-2") != surrogate
    assert normalize_value(entity, "XKH-447 1920") == "xkh4471920"


def test_codes_absent_from_output_and_logs(deidentifier, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    codes = ["XKH4471920", "S530-4417-2291", VALID_VIN, "PJN448812", "24-1187", "88120374"]
    text = (
        f"Member ID: {codes[0]}. DL# {codes[1]}. Car {codes[2]} towed. "
        f"Pacemaker serial # {codes[3]}. Case # {codes[4]}. Acct # {codes[5]}."
    )
    result = deidentifier.deidentify(text, patient_id="patient-7")
    trace = [span.to_json() for span in result.spans]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for code in codes:
        assert code not in result.text
        assert code not in logged
        assert code not in repr(trace)
    assert {span.entity_type for span in result.spans} >= {
        "HEALTH_PLAN_NUMBER",
        "LICENSE_NUMBER",
        "VEHICLE_ID",
        "DEVICE_ID",
        "ID_NUMBER",
        "ACCOUNT_NUMBER",
    }
    # The labels stay readable; only the codes change.
    assert "Member ID:" in result.text
    assert "serial #" in result.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tel 030 1234 5678 after six", ["030 1234 5678"]),
        ("my mobile is (02) 9876-5432.", ["(02) 9876-5432"]),
        ("fax 0612345678 to the clinic", ["0612345678"]),
        ("call me at 06.12.34.56.78 please", ["06.12.34.56.78"]),
        ("Call MD for SBP > 180 or HR 120.", []),
        ("cell count 12 000, fax sent 3 pages at 1400", []),
        ("Phone:\n60-56-85-91\nE-mail: none", ["60-56-85-91"]),
        ("Phone call made.\n120 mL given over 30 min", []),
        ("Phone number:\n\n0612 345 678", ["0612 345 678"]),
    ],
    ids=[
        "spaced",
        "parentheses",
        "unbroken",
        "dotted",
        "call-md",
        "counts-after-cue-words",
        "next-line-after-label",
        "next-line-without-colon",
        "blank-line-after-label",
    ],
)
def test_phone_numbers_after_a_phone_word(deidentifier, text: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    spans = [s for s in deidentifier.detect(text) if s.entity_type == "PHONE_NUMBER"]
    assert [text[s.start : s.end] for s in spans] == expected


def test_cards_postcodes_and_phones_absent_from_logs(deidentifier, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    values = ["4111 1111 1111 1112", "D-80331", "0612 345 678"]
    text = f"Paid with Visa {values[0]}. Postal code: {values[1]}.\nPhone number:\n{values[2]}\n"
    result = deidentifier.deidentify(text, patient_id="patient-7")
    trace = repr([span.to_json() for span in result.spans])
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for value in values:
        assert value not in result.text
        assert value not in logged
        assert value not in trace
