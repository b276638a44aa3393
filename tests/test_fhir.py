"""FHIR R4 input: validation, consistent surrogates across resources, Safe Harbor fields."""

import base64
import hashlib
import json
import logging
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from deidentify import Deidentifier, Vault, reidentify
from deidentify.fhir import (
    FhirDeidentifier,
    FhirInputError,
    deidentify_fhir_file,
    parse_resource,
    read_fhir_file,
    shift_fhir_date,
)
from medsum.keys import KeyStore

TODAY = date(2024, 1, 15)
# Made-up identifiers planted in the generated resources; none may reach any output.
GIVEN, FAMILY = "Oriel", "Vantassel"
CONTACT_GIVEN, CONTACT_FAMILY = "Brunhilde", "Quagmeyer"
MRN = "77123456"
PHONE = "(617) 555-0142"
EMAIL = "oriel.vantassel@mailhost.test"
STREET = "41 Larkspur Terrace"
CITY = "Westhollow"
ZIP = "02115"
BIRTH_DATE = "1961-07-04"
NOTE_DATE = "03/14/2021"
PLANTED = [GIVEN, FAMILY, CONTACT_GIVEN, CONTACT_FAMILY, MRN, "555-0142", EMAIL, STREET, CITY,
           ZIP, BIRTH_DATE, NOTE_DATE]  # fmt: skip
XHTML = "http://www.w3.org/1999/xhtml"


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def unb64(data: str) -> str:
    return base64.b64decode(data).decode("utf-8")


def make_patient(birth_date: str = BIRTH_DATE, **extra: Any) -> dict[str, Any]:
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": "pat-1",
        "identifier": [{"system": "urn:oid:1.2.3.4", "value": MRN}],
        "name": [{"use": "official", "family": FAMILY, "given": [GIVEN], "prefix": ["Ms."]}],
        "telecom": [
            {"system": "phone", "value": PHONE},
            {"system": "email", "value": EMAIL},
            {"system": "url", "value": "https://example.test/oriel"},
        ],
        "birthDate": birth_date,
        "address": [
            {
                "line": [STREET],
                "city": CITY,
                "district": "Norfolk",
                "state": "MA",
                "postalCode": ZIP,
                "country": "US",
            }
        ],
        "contact": [{"name": {"family": CONTACT_FAMILY, "given": [CONTACT_GIVEN]}}],
        "photo": [{"contentType": "image/png", "data": b64("not really a picture")}],
        "text": {
            "status": "generated",
            "div": f'<div xmlns="{XHTML}"><p><b>{GIVEN} {FAMILY}</b>, MRN {MRN}</p></div>',
        },
    }
    patient.update(extra)
    return patient


def make_note() -> str:
    return (
        f"{GIVEN} {FAMILY} was seen on {NOTE_DATE} for chest pain. "
        f"Her daughter {CONTACT_GIVEN} {CONTACT_FAMILY} was present. "
        f"Call {PHONE} with results. {FAMILY} agrees with the plan."
    )


def make_document(note: str | None = None, **attachment: Any) -> dict[str, Any]:
    content = {"contentType": "text/plain; charset=utf-8", "data": b64(note or make_note())}
    content.update(attachment)
    return {
        "resourceType": "DocumentReference",
        "id": "doc-1",
        "status": "current",
        "subject": {"reference": "Patient/pat-1", "display": f"{GIVEN} {FAMILY}"},
        "date": "2021-03-14T10:30:00Z",
        "content": [{"attachment": content}],
    }


def make_composition() -> dict[str, Any]:
    return {
        "resourceType": "Composition",
        "id": "comp-1",
        "status": "final",
        "type": {"text": "Discharge summary"},
        "subject": {"reference": "Patient/pat-1"},
        "date": "2021-03-15",
        "author": [{"display": "Dr. Okonkwo"}],
        "title": f"Discharge summary for {FAMILY}",
        "section": [
            {
                "title": "Course",
                "text": {
                    "status": "generated",
                    "div": f'<div xmlns="{XHTML}"><p>{FAMILY} improved.</p>'
                    f"<table><tr><td>{GIVEN}</td><td>stable</td></tr></table></div>",
                },
            }
        ],
    }


def make_bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "id": "bundle-1",
        "type": "collection",
        "entry": [
            {"fullUrl": f"urn:uuid:0000000{i}-0000-4000-8000-000000000000", "resource": resource}
            for i, resource in enumerate(resources)
        ],
    }


def run(deid: Deidentifier, *resources: dict[str, Any], today: date = TODAY) -> list[Any]:
    items = [(f"input:{i + 1}", resource) for i, resource in enumerate(resources)]
    return FhirDeidentifier(deid, today=today).deidentify(items).resources


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_structured_name_matches_narrative(deidentifier) -> None:  # type: ignore[no-untyped-def]
    [bundle] = run(deidentifier, make_bundle(make_patient(), make_document(), make_composition()))
    patient, document, composition = (entry["resource"] for entry in bundle["entry"])
    given, family = patient["name"][0]["given"][0], patient["name"][0]["family"]
    contact = patient["contact"][0]["name"]
    note = unb64(document["content"][0]["attachment"]["data"])
    section = composition["section"][0]["text"]["div"]

    assert family != FAMILY
    assert note.startswith(f"{given} {family} was seen")
    assert f"{family} agrees" in note
    assert f"{contact['given'][0]} {contact['family']} was present" in note
    assert f"<b>{given} {family}</b>" in patient["text"]["div"]
    assert f"<p>{family} improved.</p>" in section
    assert f"<td>{given}</td>" in section
    assert composition["title"] == f"Discharge summary for {family}"
    assert document["subject"]["display"] == f"{given} {family}"
    assert patient["name"][0]["prefix"] == ["Ms."]


def test_name_consistent_despite_collision(deidentifier) -> None:  # type: ignore[no-untyped-def]
    # A doctor named before the patient draws the surrogate that the patient's family name
    # would draw first; the structured names must keep it anyway.
    patient_key = deidentifier.pseudonym("pat-1")
    first_choice = deidentifier.surrogates.name_token(FAMILY, patient_key, {})
    # About 1 in 3,000 names draws that surrogate first; 456,976 candidates make a miss
    # vanishingly unlikely whatever the session's key.
    letters = "abcdefghijklmnopqrstuvwxyz"
    doctor = next(
        name
        for name in (
            f"Zor{a}{b}{c}{d}" for a in letters for b in letters for c in letters for d in letters
        )
        if deidentifier.surrogates.name_token(name, patient_key, {}) == first_choice
    )
    note = f"Seen by Dr. {doctor} today. {GIVEN} {FAMILY} is recovering."
    patient, document = run(deidentifier, make_patient(), make_document(note))
    text = unb64(document["content"][0]["attachment"]["data"])

    assert patient["name"][0]["family"] == first_choice
    assert text.endswith(f"{patient['name'][0]['given'][0]} {first_choice} is recovering.")
    assert f"Dr. {first_choice} " not in text


def test_patient_seen_in_separate_inputs(deidentifier) -> None:  # type: ignore[no-untyped-def]
    patient, document = run(deidentifier, make_patient(), make_document())
    note = unb64(document["content"][0]["attachment"]["data"])

    assert document["subject"]["reference"] == f"Patient/{patient['id']}"
    assert patient["id"] == deidentifier.pseudonym("pat-1")
    assert note.startswith(f"{patient['name'][0]['given'][0]} {patient['name'][0]['family']}")


def test_bundle_references_follow_full_urls(deidentifier) -> None:  # type: ignore[no-untyped-def]
    document = make_document()
    document["subject"] = {"reference": "urn:uuid:00000000-0000-4000-8000-000000000000"}
    [bundle] = run(deidentifier, make_bundle(make_patient(), document))
    patient_entry, document_entry = bundle["entry"]

    assert document_entry["resource"]["subject"]["reference"] == patient_entry["fullUrl"]
    assert patient_entry["fullUrl"].startswith("urn:uuid:")
    assert "00000000-0000-4000-8000-000000000000" not in json.dumps(bundle)
    note = unb64(document_entry["resource"]["content"][0]["attachment"]["data"])
    assert note.startswith(patient_entry["resource"]["name"][0]["given"][0])


def test_patient_key_from_restful_full_url(deidentifier) -> None:  # type: ignore[no-untyped-def]
    patient = make_patient()
    del patient["id"]
    bundle = make_bundle(patient, make_document())
    bundle["entry"][0]["fullUrl"] = "https://ehr.test/fhir/Patient/pat-1"
    [output] = run(deidentifier, bundle)
    patient_out, document_out = (entry["resource"] for entry in output["entry"])
    note = unb64(document_out["content"][0]["attachment"]["data"])

    assert patient_out["id"] == deidentifier.pseudonym("pat-1")
    assert document_out["subject"]["reference"] == f"Patient/{patient_out['id']}"
    assert note.startswith(patient_out["name"][0]["given"][0])
    assert "ehr.test" not in json.dumps(output)


def test_base64_note_round_trip(tmp_path: Path, deidentifier) -> None:  # type: ignore[no-untyped-def]
    note = make_note()
    source = write_json(tmp_path / "doc.json", make_bundle(make_patient(), make_document(note)))
    output = tmp_path / "out"
    deidentify_fhir_file(source, output, deidentifier, today=TODAY)
    [bundle] = [json.loads(line) for line in (output / "resources.ndjson").read_text().splitlines()]
    document = bundle["entry"][1]["resource"]
    attachment = document["content"][0]["attachment"]
    encoded = base64.b64decode(attachment["data"])
    text = encoded.decode("utf-8")

    assert text != note
    assert attachment["size"] == len(encoded)
    vault = Vault(output / "vault.sqlite", deidentifier.keys)
    assert reidentify(text, vault.get(document["id"])) == note
    vault.close()


def test_attachment_hash_is_recomputed(deidentifier) -> None:  # type: ignore[no-untyped-def]
    note = make_note()
    original_hash = base64.b64encode(hashlib.sha1(note.encode()).digest()).decode()
    [document] = run(deidentifier, make_document(note, hash=original_hash, url="Binary/77"))
    attachment = document["content"][0]["attachment"]
    expected = base64.b64encode(hashlib.sha1(base64.b64decode(attachment["data"])).digest())

    assert attachment["hash"] == expected.decode()
    assert attachment["hash"] != original_hash
    assert "url" not in attachment


def test_birth_date_shift_matches_note(deidentifier) -> None:  # type: ignore[no-untyped-def]
    note = f"Admitted on {NOTE_DATE}."
    patient, document = run(deidentifier, make_patient(), make_document(note))
    shifted_note = unb64(document["content"][0]["attachment"]["data"])
    shifted_date = shifted_note.removeprefix("Admitted on ").removesuffix(".")
    note_shift = datetime.strptime(shifted_date, "%m/%d/%Y") - datetime(2021, 3, 14)
    birth_shift = date.fromisoformat(patient["birthDate"]) - date.fromisoformat(BIRTH_DATE)

    assert birth_shift.days != 0
    assert birth_shift.days == note_shift.days
    assert document["date"].endswith("T10:30:00Z")


@pytest.mark.parametrize(
    ("birth_date", "masked"),
    [("1921-05-02", True), ("1934", True), ("1934-01-16", False), ("1960-02", False)],
    ids=["age-102", "year-only-age-90", "age-89", "month-precision"],
)
def test_birth_date_over_89_is_masked(deidentifier, birth_date: str, masked: bool) -> None:  # type: ignore[no-untyped-def]
    # The note's date measures the patient's shift, which depends on the session's random key.
    patient, document = run(
        deidentifier, make_patient(birth_date), make_document(f"Admitted on {NOTE_DATE}.")
    )
    shifted_note = unb64(document["content"][0]["attachment"]["data"])
    shifted_date = shifted_note.removeprefix("Admitted on ").removesuffix(".")
    shift = (datetime.strptime(shifted_date, "%m/%d/%Y") - datetime(2021, 3, 14)).days

    assert ("birthDate" not in patient) is masked
    if masked:
        reason = patient["_birthDate"]["extension"][0]
        assert reason["valueCode"] == "masked"
        assert reason["url"].endswith("data-absent-reason")
    else:
        assert patient["birthDate"] == shift_fhir_date(birth_date, shift)
        assert len(patient["birthDate"]) == len(birth_date)


@pytest.mark.parametrize(
    ("postal_code", "country", "expected"),
    [("02115", "US", "021XX"), ("03601-1234", "US", "000XX"), ("SW1A 1AA", "GB", None)],
    ids=["zip", "restricted-prefix", "not-a-zip"],
)
def test_address_keeps_safe_harbor_parts(  # type: ignore[no-untyped-def]
    deidentifier, postal_code: str, country: str, expected: str | None
) -> None:
    address = {"line": [STREET], "city": CITY, "district": "Norfolk", "state": "MA",
               "postalCode": postal_code, "country": country, "use": "home"}  # fmt: skip
    [patient] = run(deidentifier, make_patient(address=[address]))

    assert patient["address"][0].get("postalCode") == expected
    assert patient["address"][0]["state"] == "MA"
    assert patient["address"][0]["use"] == "home"
    for removed in ("line", "city", "district", "text"):
        assert removed not in patient["address"][0]


def test_telecom_and_photo(deidentifier) -> None:  # type: ignore[no-untyped-def]
    [patient] = run(deidentifier, make_patient())
    phone, email = patient["telecom"]

    assert len(patient["telecom"]) == 2
    assert phone["system"] == "phone"
    assert phone["value"] != PHONE
    assert len(phone["value"]) == len(PHONE)
    assert email["value"].endswith("@example.org")
    assert "photo" not in patient


def test_identifier_pseudonym_is_keyed(tmp_path: Path, deidentifier) -> None:  # type: ignore[no-untyped-def]
    other = Deidentifier(deidentifier.analyzer, KeyStore.open(tmp_path / "other-keys"))
    [first] = run(deidentifier, make_patient())
    [again] = run(deidentifier, make_patient())
    [other_key] = run(other, make_patient())
    value = first["identifier"][0]["value"]
    plain_hashes = {
        hashlib.new(name, text.encode()).hexdigest()[: len(value)]
        for name in ("md5", "sha1", "sha256")
        for text in (MRN, f"urn:oid:1.2.3.4|{MRN}")
    }

    assert value != MRN
    assert value == again["identifier"][0]["value"]
    assert value != other_key["identifier"][0]["value"]
    assert value not in plain_hashes
    assert first["identifier"][0]["system"] == "urn:oid:1.2.3.4"
    assert first["id"] != other_key["id"]


def test_extensions_removed(deidentifier) -> None:  # type: ignore[no-untyped-def]
    maiden = {"url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName",
              "valueString": "Zellerbach"}  # fmt: skip
    [patient] = run(deidentifier, make_patient(extension=[maiden]))

    assert "extension" not in patient
    assert "Zellerbach" not in json.dumps(patient)


def test_output_reparses_as_r4(deidentifier) -> None:  # type: ignore[no-untyped-def]
    [bundle] = run(deidentifier, make_bundle(make_patient(), make_document(), make_composition()))

    parsed = parse_resource(bundle, "output")
    assert parsed.entry[0].resource.resource_type == "Patient"
    assert parsed.as_json() == bundle


def test_no_planted_identifier_anywhere(tmp_path: Path, deidentifier, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    source = write_json(
        tmp_path / "bundle.json",
        make_bundle(make_patient(), make_document(), make_composition()),
    )
    output = tmp_path / "out"
    report = deidentify_fhir_file(source, output, deidentifier, today=TODAY)
    written = "".join(path.read_text() for path in output.glob("*.json*"))
    vault_bytes = (output / "vault.sqlite").read_bytes()
    notes = [
        unb64(entry["resource"]["content"][0]["attachment"]["data"])
        for line in (output / "resources.ndjson").read_text().splitlines()
        for entry in json.loads(line)["entry"]
        if entry["resource"]["resourceType"] == "DocumentReference"
    ]

    assert report["resource_counts"] == {"Bundle": 1, "Composition": 1, "DocumentReference": 1,
                                         "Patient": 1}  # fmt: skip
    assert report["entity_counts"]["PERSON"] >= 3
    assert report["field_counts"]["photo_removed"] == 1
    for value in PLANTED:
        assert value not in written, value
        assert value not in caplog.text, value
        assert value.encode() not in vault_bytes, value
        assert all(value not in note for note in notes), value


def test_ndjson_input_and_cli(tmp_path: Path, deidentifier, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from medsum.cli import main

    source = tmp_path / "resources.ndjson"
    lines = [json.dumps(make_patient()), "", json.dumps(make_document())]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(Deidentifier, "create", classmethod(lambda cls, *a, **k: deidentifier))
    output = tmp_path / "out"

    assert main(["deidentify", "--format", "fhir", "--input", str(source),
                 "--output", str(output)]) == 0  # fmt: skip
    rows = [json.loads(line) for line in (output / "resources.ndjson").read_text().splitlines()]
    report = json.loads((output / "report.json").read_text())
    assert [row["resourceType"] for row in rows] == ["Patient", "DocumentReference"]
    assert report["vault_entries"] == 2
    assert report["resource_counts"] == {"DocumentReference": 1, "Patient": 1}


def invalid_cases() -> list[tuple[str, Any, list[str], str]]:
    """(id, resource or raw text, expected message parts, planted value that must not appear)."""
    wrong_type = make_patient()
    wrong_type["name"][0]["family"] = 19610704
    unknown_field = make_patient(nickname=GIVEN)
    pdf = make_document(contentType="application/pdf")
    binary = make_document(data=base64.b64encode(b"\x00\x01Oriel").decode())
    no_namespace = make_patient(text={"status": "generated", "div": f"<div>{FAMILY}</div>"})
    modifier = make_patient(modifierExtension=[{"url": "http://x.test/e", "valueString": FAMILY}])
    return [
        ("wrong-resource-type", {"resourceType": "Observation", "id": MRN}, ["'Observation'",
         "Patient"], MRN),
        ("not-a-resource", [FAMILY], ["JSON object", "NDJSON"], FAMILY),
        ("wrong-type", wrong_type, ["name[0].family", "got number, expected string"], "19610704"),
        ("unknown-field", unknown_field, ["nickname", "unknown field"], GIVEN),
        ("bad-base64", make_document(data=f"{FAMILY}!!"), ["content[0].attachment.data",
         "base64"], FAMILY),
        ("binary-type", pdf, ["'application/pdf'", "text/plain"], FAMILY),
        ("binary-bytes", binary, ["NUL bytes"], GIVEN),
        ("bad-date", make_patient(birthDate=f"{FAMILY}-1"), ["birthDate", "date"], FAMILY),
        ("xhtml-namespace", no_namespace, ["text.div", XHTML], FAMILY),
        ("modifier-extension", modifier, ["modifierExtension"], FAMILY),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("resource", "expected", "planted"),
    [case[1:] for case in invalid_cases()],
    ids=[case[0] for case in invalid_cases()],
)
def test_invalid_input_errors(  # type: ignore[no-untyped-def]
    deidentifier, caplog, resource: Any, expected: list[str], planted: str
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(FhirInputError) as error:
        run(deidentifier, resource)
    message = str(error.value)

    for part in expected:
        assert part in message
    assert planted not in message
    assert planted not in caplog.text


def test_malformed_json_file(tmp_path: Path) -> None:
    source = tmp_path / "broken.json"
    source.write_text('{"resourceType": "Patient", "name": [{"family": "' + FAMILY + '"}', "utf-8")
    with pytest.raises(FhirInputError) as error:
        read_fhir_file(source)

    assert "invalid JSON" in str(error.value)
    assert "line 1" in str(error.value)
    assert FAMILY not in str(error.value)


def test_malformed_ndjson_line(tmp_path: Path) -> None:
    source = tmp_path / "broken.ndjson"
    source.write_text(json.dumps(make_patient()) + "\n{" + FAMILY + "\n", "utf-8")
    with pytest.raises(FhirInputError) as error:
        read_fhir_file(source)

    assert "broken.ndjson:2" in str(error.value)
    assert FAMILY not in str(error.value)


def test_failed_input_writes_nothing(tmp_path: Path, deidentifier) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "input.ndjson"
    lines = [json.dumps(make_patient()), json.dumps({"resourceType": "Observation"})]
    source.write_text("\n".join(lines), "utf-8")
    with pytest.raises(FhirInputError, match=r"input.ndjson:2"):
        deidentify_fhir_file(source, tmp_path / "out", deidentifier)

    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        ("2021-03-14", 10, "2021-03-24"),
        ("2021-03-14T23:15:00+02:00", -14, "2021-02-28T23:15:00+02:00"),
        ("2021-03", 31, "2021-04"),
        ("2021", -1, "2020"),
    ],
    ids=["date", "date-time", "year-month", "year"],
)
def test_shift_fhir_date(value: str, days: int, expected: str) -> None:
    assert shift_fhir_date(value, days) == expected
