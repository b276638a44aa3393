"""De-identify FHIR R4 resources: Patient, DocumentReference, Composition and Bundle.

`fhir_input.py` reads and validates the resources. All resources of one patient share that
patient's key, which is the Patient's logical id. The identifiers, names, dates and narrative
text of the Patient, and of every DocumentReference or Composition whose `subject` points to
it, get the same keyed surrogates. The Patient's structured names (and its contacts' names)
seed the de-identifier, so a name in a note gets the surrogate of the Patient's name field even
where no recognizer would find it.

What happens to each part of a resource:
- ids and references become keyed pseudonyms (`Patient/<patient pseudonym>`, other types
  `Type/<record pseudonym>`), and Bundle `fullUrl`s become keyed `urn:uuid:` values;
- names are replaced token by token, and prefixes and suffixes other than titles are dropped;
- `birthDate` and every other date move by the patient's date shift. The birth date of a
  patient older than 89 is removed instead and marked with the `data-absent-reason` extension
  (`masked`), because Safe Harbor counts the birth year of such a patient as an identifier;
- addresses keep `use`, `type`, `state`, `country` and the Safe Harbor ZIP prefix;
- `telecom` phones and emails get surrogates, and other contact points are dropped;
- identifier values become keyed pseudonyms, and `photo`, extensions, attachment URLs, Bundle
  links and signatures are dropped;
- narrative XHTML, base64 `text/plain` and `text/markdown` attachments, titles and
  descriptions are de-identified as text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fhirclient.models.address import Address
from fhirclient.models.attachment import Attachment
from fhirclient.models.bundle import Bundle
from fhirclient.models.composition import Composition
from fhirclient.models.contactpoint import ContactPoint
from fhirclient.models.documentreference import DocumentReference
from fhirclient.models.fhirabstractbase import FHIRAbstractBase
from fhirclient.models.fhirdate import FHIRDate
from fhirclient.models.fhirtime import FHIRTime
from fhirclient.models.humanname import HumanName
from fhirclient.models.identifier import Identifier
from fhirclient.models.narrative import Narrative
from fhirclient.models.patient import Patient
from fhirclient.models.reference import Reference
from fhirclient.models.resource import Resource

from deidentify.deidentifier import Deidentifier, DeidResult
from deidentify.fhir_input import (
    RESOURCE_TYPE_NAME,
    SUPPORTED_RESOURCE_TYPES,
    FhirInputError,
    parse_resource,
    read_fhir_file,
)
from deidentify.fhir_narrative import deidentify_xhtml
from deidentify.fhir_progress import (
    PROGRESS_FILE,
    check_inputs,
    item_digest,
    load_progress,
    progress_entry,
    reference_day,
    total_counts,
)
from deidentify.registry import NAME_REGISTRY_NAME, attached_registry, check_registry_present
from deidentify.resume import check_resume, record_run_state
from deidentify.surrogates import TITLES
from deidentify.vault import Vault
from deidentify.zipcode import is_zip_code, safe_harbor_zip

__all__ = [
    "SUPPORTED_RESOURCE_TYPES",
    "FhirDeidentifier",
    "FhirInputError",
    "FhirResult",
    "deidentify_fhir_file",
    "parse_resource",
    "read_fhir_file",
    "shift_fhir_date",
]

logger = logging.getLogger(__name__)

RESOURCES_FILE = "resources.ndjson"
TRACE_FILE = "trace.jsonl"
REPORT_FILE = "report.json"
TEXT_CONTENT_TYPES = ("text/plain", "text/markdown")
TEXT_CHARSETS = ("utf-8", "utf8", "us-ascii")
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
# Safe Harbor treats every age over 89 as an identifier, and with it the birth year.
MAX_AGE = 89

# Free-text string fields, by model class name and property: de-identified as text.
FREE_TEXT_FIELDS = {
    ("Attachment", "title"),
    ("CodeableConcept", "text"),
    ("Composition", "title"),
    ("CompositionSection", "title"),
    ("DocumentReference", "description"),
}
# Reference targets whose `display` is a person's name.
PERSON_TYPES = {"Patient", "Practitioner", "PractitionerRole", "RelatedPerson", "Person"}
PHONE_SYSTEMS = {"phone", "fax", "pager", "sms"}
# Name prefixes and suffixes kept as written; any other prefix or suffix is dropped.
KEPT_AFFIXES = TITLES | {"jr", "sr", "ii", "iii", "iv", "md", "do", "phd", "rn", "np", "pa"}

FHIR_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(.*)", re.DOTALL)
RESTFUL_REFERENCE = re.compile(
    r"(?:[A-Za-z][A-Za-z0-9+.\-]*://\S+?/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})"
    r"(?:/_history/[A-Za-z0-9\-.]{1,64})?"
)
# A media type is shown in errors only when it has this shape.
MEDIA_TYPE = re.compile(r"[a-z]+/[a-z0-9.+\-]{1,64}")


# ---- Values --------------------------------------------------------------------------------


def shift_fhir_date(value: str, days: int) -> str:
    """Move a FHIR date, dateTime or instant by `days`, keeping its precision and time of day.

    A partial date ("1970" or "1970-03") is anchored at its first day, as the text path anchors
    "March 1970", and written back at the same precision.
    """
    match = FHIR_DATE.fullmatch(value)
    if match is None:
        raise ValueError("not a FHIR date")
    year, month, day, rest = match.groups()
    anchor = date(int(year), int(month or 1), int(day or 1))
    shifted = anchor + timedelta(days=days)
    if day is not None:
        return shifted.isoformat() + rest
    if month is not None:
        return f"{shifted.year:04d}-{shifted.month:02d}"
    return f"{shifted.year:04d}"


def age_over_limit(birth_date: str, today: date) -> bool:
    """Return whether a patient born on `birth_date` is older than 89 on `today`.

    A partial birth date counts from its first day, so the age is never underestimated.
    """
    match = FHIR_DATE.fullmatch(birth_date)
    if match is None:
        return True
    year, month, day, _ = match.groups()
    born = date(int(year), int(month or 1), int(day or 1))
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return age > MAX_AGE


def _keyed_uuid(deid: Deidentifier, value: str) -> str:
    """Return a `urn:uuid:` value derived from the keyed pseudonym of `value`."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, deid.surrogates.record_key(value))}"


def _merge_mapping(mapping: dict[str, str], ambiguous: set[str], new: dict[str, str]) -> None:
    """Add surrogate -> original pairs; a surrogate of two originals is dropped as ambiguous."""
    for surrogate, original in new.items():
        if surrogate in ambiguous:
            continue
        if mapping.get(surrogate, original) != original:
            del mapping[surrogate]
            ambiguous.add(surrogate)
            continue
        mapping[surrogate] = original


# ---- De-identification ---------------------------------------------------------------------


@dataclass
class _Scope:
    """State of one output resource and its contained resources: key, patient, vault mapping."""

    key: str
    resource_type: str
    where: str
    patient_id: str | None
    known_names: list[str]
    shift_days: int
    mapping: dict[str, str] = field(default_factory=dict)
    ambiguous: set[str] = field(default_factory=set)
    traces: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FhirResult:
    """De-identified resources as FHIR JSON, with vault mappings, traces and counts."""

    resources: list[dict[str, Any]]
    mappings: dict[str, dict[str, str]] = field(repr=False)
    traces: list[dict[str, Any]]
    entity_counts: Counter[str]
    field_counts: Counter[str]
    resource_counts: Counter[str]


class FhirDeidentifier:
    """De-identify parsed FHIR resources with one `Deidentifier`, consistently per patient."""

    def __init__(self, deid: Deidentifier, *, today: date | None = None) -> None:
        self.deid = deid
        # The reference day for the age limit; tests fix it.
        self.today = today or date.today()
        self._reset()

    def _reset(self) -> None:
        self._patient_names: dict[str, list[str]] = {}
        self._patient_urls: dict[str, str] = {}
        self._full_url_types: dict[str, str] = {}
        self._start_item()

    def _start_item(self) -> None:
        """Clear the state of one input item, so that each item's output depends on it alone."""
        self.masked_birth_dates: set[str] = set()
        self.entity_counts: Counter[str] = Counter()
        self.field_counts: Counter[str] = Counter()
        self.resource_counts: Counter[str] = Counter()
        self._scopes: list[_Scope] = []

    def deidentify(self, items: Sequence[tuple[str, Any]]) -> FhirResult:
        """Validate every item, then de-identify them; (location, JSON) pairs as read.

        Every item is validated before the first is changed, so invalid input fails early.
        """
        combined = FhirResult(
            resources=[],
            mappings={},
            traces=[],
            entity_counts=Counter(),
            field_counts=Counter(),
            resource_counts=Counter(),
        )
        for where, model in self.prepare(items):
            part = self.deidentify_item(where, model)
            combined.resources += part.resources
            combined.mappings.update(part.mappings)
            combined.traces += part.traces
            combined.entity_counts.update(part.entity_counts)
            combined.field_counts.update(part.field_counts)
            combined.resource_counts.update(part.resource_counts)
        return combined

    def prepare(self, items: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
        """Validate every item and register its Patients; returns (location, model) pairs.

        The Patients of every item are registered before any item is de-identified, so a
        Patient's names seed the notes of every item, wherever that Patient appears.
        """
        self._reset()
        models = [(where, parse_resource(data, where)) for where, data in items]
        for _, model in models:
            self._register_patients(model, None)
        return models

    def deidentify_item(self, where: str, model: Any) -> FhirResult:
        """De-identify one model from `prepare` and return the output and counts of that item."""
        self._start_item()
        self.deidentify_resource(model, where, None, None)
        output = model.as_json()
        self._mark_masked_birth_dates(output)
        # Re-parsing proves the output is still valid FHIR R4.
        parse_resource(output, f"{where} (de-identified output)")
        return FhirResult(
            resources=[output],
            mappings={scope.key: scope.mapping for scope in self._scopes},
            traces=[trace for scope in self._scopes for trace in scope.traces],
            entity_counts=self.entity_counts,
            field_counts=self.field_counts,
            resource_counts=self.resource_counts,
        )

    # -- patients and references

    def _register_patients(self, model: Any, full_url: str | None) -> None:
        """Record each Patient's key and names, so that any resource can refer to them."""
        if isinstance(model, Bundle):
            for entry in model.entry or []:
                if entry.resource is not None:
                    if entry.fullUrl:
                        self._full_url_types[entry.fullUrl] = entry.resource.resource_type
                    self._register_patients(entry.resource, entry.fullUrl)
            return
        if not isinstance(model, Patient):
            return
        key = patient_key_of(model, full_url)
        if key is None:
            return
        if full_url:
            self._patient_urls[full_url] = key
        names = self._patient_names.setdefault(key, [])
        humans = list(model.name or []) + [c.name for c in model.contact or [] if c.name]
        for human in humans:
            for part in _name_parts(human):
                if part not in names:
                    names.append(part)

    def _patient_key(self, reference: str | None) -> str | None:
        if not reference:
            return None
        if reference in self._patient_urls:
            return self._patient_urls[reference]
        match = RESTFUL_REFERENCE.fullmatch(reference)
        if match and match["type"] == "Patient":
            return match["id"]
        return None

    def resource_id(self, resource_type: str, resource_id: str) -> str:
        """Return the keyed pseudonym of a resource id (the patient pseudonym for a Patient)."""
        if resource_type == "Patient":
            return self.deid.pseudonym(resource_id)
        return self.deid.surrogates.record_key(f"{resource_type}/{resource_id}")

    def rewrite_reference(self, reference: str) -> tuple[str | None, str | None]:
        """Return the pseudonymized reference and its target type (None when unknown)."""
        if reference.startswith("#"):
            return reference, None
        if reference in self._full_url_types:
            return self.rewrite_full_url(reference), self._full_url_types[reference]
        if reference.startswith(("urn:uuid:", "urn:oid:")):
            return _keyed_uuid(self.deid, f"fullUrl\x1f{reference}"), None
        match = RESTFUL_REFERENCE.fullmatch(reference)
        if match is None:
            return None, None
        if match["type"] == "Patient":
            key = self._patient_key(reference) or match["id"]
            return f"Patient/{self.deid.pseudonym(key)}", "Patient"
        return f"{match['type']}/{self.resource_id(match['type'], match['id'])}", match["type"]

    def rewrite_full_url(self, full_url: str) -> str:
        return _keyed_uuid(self.deid, f"fullUrl\x1f{full_url}")

    # -- resources

    def _scope_for(
        self, model: Any, where: str, full_url: str | None, parent: _Scope | None
    ) -> _Scope:
        resource_type = model.resource_type
        if isinstance(model, Patient):
            patient_id = patient_key_of(model, full_url)
        elif isinstance(model, DocumentReference | Composition) and model.subject is not None:
            patient_id = self._patient_key(model.subject.reference)
        else:
            patient_id = parent.patient_id if parent else None
        if model.id:
            key = self.resource_id(resource_type, model.id)
        elif isinstance(model, Patient) and patient_id:
            key = self.deid.pseudonym(patient_id)
        elif full_url:
            key = self.deid.surrogates.record_key(f"fullUrl\x1f{full_url}")
        elif isinstance(model, Bundle):
            key = ""
        else:
            raise FhirInputError(
                f"{where}: {resource_type} has no id (and no Bundle fullUrl); give every "
                "resource an id so that its vault entry and references can be named"
            )
        pseudonym = self.deid.pseudonym(patient_id)
        return _Scope(
            key=key,
            resource_type=resource_type,
            where=where,
            patient_id=patient_id,
            # NOTE: a Patient missing from the input seeds no names, so notes that refer to it
            # rely on detection alone.
            known_names=self._patient_names.get(patient_id or "", []),
            shift_days=self.deid.surrogates.date_shift_days(pseudonym),
        )

    def deidentify_resource(
        self, model: Any, where: str, full_url: str | None, parent: _Scope | None
    ) -> None:
        self.resource_counts[model.resource_type] += 1
        scope = self._scope_for(model, where, full_url, parent)
        if scope.key:
            model.id = scope.key
            self._scopes.append(scope)
        walker = _Walker(self, scope)
        if isinstance(model, Bundle):
            walker.bundle(model)
        else:
            walker.resource(model)
        spans = sum(len(trace["spans"]) for trace in scope.traces)
        logger.debug("de-identified a %s: %d text spans", model.resource_type, spans)

    def _mark_masked_birth_dates(self, output: dict[str, Any]) -> None:
        """Add the data-absent-reason `masked` to Patients whose birth date was removed."""
        patient = output.get("resourceType") == "Patient"
        if patient and output.get("id") in self.masked_birth_dates:
            output["_birthDate"] = {
                "extension": [{"url": DATA_ABSENT_REASON, "valueCode": "masked"}]
            }
        for entry in output.get("entry", []):
            if isinstance(entry.get("resource"), dict):
                self._mark_masked_birth_dates(entry["resource"])


def patient_key_of(patient: Any, full_url: str | None) -> str | None:
    """Return a Patient's key: its id, else the id in a RESTful `fullUrl`, else the `fullUrl`."""
    if patient.id:
        return str(patient.id)
    match = RESTFUL_REFERENCE.fullmatch(full_url or "")
    if match and match["type"] == "Patient":
        return match["id"]
    return full_url


def _name_parts(human: Any) -> list[str]:
    """Return the replaceable parts of a HumanName in a fixed order: given, family, text."""
    parts = list(human.given or [])
    if human.family:
        parts.append(human.family)
    if human.text:
        parts.append(human.text)
    return parts


def _kept_affixes(affixes: list[str] | None) -> tuple[list[str] | None, int]:
    """Keep the prefixes or suffixes that are titles or degrees; returns them and the drops."""
    if not affixes:
        return affixes, 0
    kept = [
        affix
        for affix in affixes
        if all(token.lower().strip(".") in KEPT_AFFIXES for token in affix.split())
    ]
    return kept or None, len(affixes) - len(kept)


class _Walker:
    """Walk one resource's model tree and de-identify each element in place."""

    def __init__(self, owner: FhirDeidentifier, scope: _Scope) -> None:
        self.owner = owner
        self.deid = owner.deid
        self.scope = scope

    # -- generic traversal

    def visit(self, element: Any, path: str) -> None:
        """De-identify every property of `element` that is not handled by its type's method."""
        for name, json_name, _, is_list, _, _ in element.elementProperties():
            value = getattr(element, name)
            if value is None:
                continue
            field_path = f"{path}.{json_name}" if path else json_name
            if name == "modifierExtension":
                raise FhirInputError(
                    f"{self.scope.where}: {self.scope.resource_type}.{field_path} is set; "
                    "modifier extensions change the meaning of a resource, so medsum cannot "
                    "de-identify it safely. Remove the modifierExtension or map it to core fields."
                )
            if name == "extension":
                # Extensions may carry identifiers (a mother's maiden name, a birthplace).
                self.owner.field_counts["extension_removed"] += len(value)
                setattr(element, name, None)
                continue
            if is_list:
                items = [
                    self.transform(item, element, name, f"{field_path}[{i}]")
                    for i, item in enumerate(value)
                ]
                kept = [item for item in items if item is not None]
                setattr(element, name, kept or None)
            else:
                setattr(element, name, self.transform(value, element, name, field_path))

    def transform(self, value: Any, owner: Any, name: str, path: str) -> Any:
        """Return the de-identified value of one property; None drops it."""
        if isinstance(value, FHIRTime):
            return value
        if isinstance(value, FHIRDate):
            return self.date(value)
        handlers = (
            (HumanName, self.human_name),
            (Address, self.address),
            (ContactPoint, self.contact_point),
            (Identifier, self.identifier),
            (Reference, self.reference),
            (Attachment, self.attachment),
            (Narrative, self.narrative),
        )
        for model_class, handler in handlers:
            if isinstance(value, model_class):
                return handler(value, path)
        if isinstance(value, Resource):
            return self.contained(value, path)
        if isinstance(value, FHIRAbstractBase):
            self.visit(value, path)
            return value
        if isinstance(value, str) and (type(owner).__name__, name) in FREE_TEXT_FIELDS:
            return self.text(value, path)
        return value

    # -- resources

    def resource(self, model: Any) -> None:
        if isinstance(model, Patient):
            self.patient_fields(model)
        self.visit(model, "")

    def patient_fields(self, patient: Any) -> None:
        if patient.photo:
            self.owner.field_counts["photo_removed"] += len(patient.photo)
            patient.photo = None
        birth = patient.birthDate
        if birth is not None and age_over_limit(birth.as_json(), self.owner.today):
            patient.birthDate = None
            self.owner.masked_birth_dates.add(self.scope.key)
            self.owner.field_counts["birth_date_masked"] += 1

    def contained(self, model: Any, path: str) -> Any:
        """De-identify a contained resource within its container's scope."""
        if isinstance(model, Bundle):
            raise FhirInputError(
                f"{self.scope.where}: {self.scope.resource_type}.{path} is a contained Bundle, "
                "which FHIR does not allow; move it out of `contained`"
            )
        self.owner.resource_counts[model.resource_type] += 1
        self.resource(model)
        return model

    def bundle(self, bundle: Any) -> None:
        if bundle.link:
            self.owner.field_counts["link_removed"] += len(bundle.link)
            bundle.link = None
        if bundle.signature is not None:
            # The signature covered the original content, so it no longer verifies.
            self.owner.field_counts["signature_removed"] += 1
            bundle.signature = None
        entries = bundle.entry or []
        bundle.entry = None
        # Bundle-level dates shift with the Bundle's patient when it has exactly one.
        patients = {
            patient_key_of(entry.resource, entry.fullUrl)
            for entry in entries
            if isinstance(entry.resource, Patient)
        }
        if len(patients) == 1:
            only = next(iter(patients))
            self.scope.patient_id = only
            self.scope.shift_days = self.deid.surrogates.date_shift_days(self.deid.pseudonym(only))
        self.visit(bundle, "")
        for index, entry in enumerate(entries):
            self.bundle_entry(entry, f"entry[{index}]")
        bundle.entry = entries or None

    def bundle_entry(self, entry: Any, path: str) -> None:
        full_url, resource = entry.fullUrl, entry.resource
        entry.resource = None
        entry.link = None
        request = entry.request
        if request is not None:
            request.ifNoneExist = None  # a search query, often by identifier
            request.ifModifiedSince = None
            request.url = self.request_url(request.url, resource)
        if entry.response is not None:
            entry.response.location = None
            entry.response.outcome = None
        self.visit(entry, path)
        if full_url:
            entry.fullUrl = self.owner.rewrite_full_url(full_url)
        if resource is not None:
            where = f"{self.scope.where} {path}.resource"
            self.owner.deidentify_resource(resource, where, full_url, self.scope)
            entry.resource = resource

    def request_url(self, url: str, resource: Any) -> str:
        """Rewrite `Type/id`, and reduce a conditional URL to its resource type."""
        match = RESTFUL_REFERENCE.fullmatch(url)
        if match:
            rewritten, _ = self.owner.rewrite_reference(url)
            if rewritten:
                return rewritten
        resource_type = url.split("?", 1)[0].split("/", 1)[0]
        if RESOURCE_TYPE_NAME.fullmatch(resource_type):
            return resource_type
        return resource.resource_type if resource is not None else "Bundle"

    # -- data types

    def date(self, value: Any) -> Any:
        original = value.as_json()
        try:
            shifted = shift_fhir_date(original, self.scope.shift_days)
        except (ValueError, OverflowError):
            raise FhirInputError(
                f"{self.scope.where}: a {self.scope.resource_type} date cannot be shifted (year "
                "out of range); correct the date"
            ) from None
        self.owner.field_counts["date_shifted"] += 1
        _merge_mapping(self.scope.mapping, self.scope.ambiguous, {shifted: original})
        return type(value)(shifted)

    def replace_names(self, names: list[str]) -> list[str]:
        """Return surrogates for `names`, drawn after the patient's known names so they agree."""
        known = self.scope.known_names
        replacements, mapping = self.deid.replace_values(
            "PERSON", names, self.scope.patient_id, known_names=known
        )
        _merge_mapping(self.scope.mapping, self.scope.ambiguous, mapping)
        return replacements

    def human_name(self, human: Any, path: str) -> Any:
        parts = _name_parts(human)
        replacements = iter(self.replace_names(parts))
        if human.given:
            human.given = [next(replacements) for _ in human.given]
        if human.family:
            human.family = next(replacements)
        if human.text:
            human.text = next(replacements)
        human.prefix, dropped_prefixes = _kept_affixes(human.prefix)
        human.suffix, dropped_suffixes = _kept_affixes(human.suffix)
        self.owner.field_counts["name_replaced"] += 1
        if dropped_prefixes + dropped_suffixes:
            self.owner.field_counts["name_affix_removed"] += dropped_prefixes + dropped_suffixes
        self.visit(human, path)
        return human

    def address(self, address: Any, path: str) -> Any:
        """Keep only what Safe Harbor allows: state, country and the ZIP prefix."""
        address.line = address.city = address.district = address.text = None
        if address.postalCode is not None:
            code = address.postalCode
            address.postalCode = safe_harbor_zip(code) if is_zip_code(code) else None
        self.owner.field_counts["address_generalized"] += 1
        self.visit(address, path)
        return address

    def contact_point(self, contact: Any, path: str) -> Any:
        if contact.value is None:
            return contact
        if contact.system in PHONE_SYSTEMS:
            entity_type = "PHONE_NUMBER"
        elif contact.system == "email":
            entity_type = "EMAIL_ADDRESS"
        else:
            self.owner.field_counts["telecom_removed"] += 1
            return None
        [replacement], mapping = self.deid.replace_values(
            entity_type, [contact.value], self.scope.patient_id
        )
        _merge_mapping(self.scope.mapping, self.scope.ambiguous, mapping)
        contact.value = replacement
        self.owner.field_counts["telecom_replaced"] += 1
        self.visit(contact, path)
        return contact

    def identifier(self, identifier: Any, path: str) -> Any:
        if identifier.value is not None:
            original = identifier.value
            source = f"identifier\x1f{identifier.system or ''}\x1f{original}"
            if original.startswith("urn:uuid:"):
                pseudonym = _keyed_uuid(self.deid, source)
            else:
                pseudonym = self.deid.surrogates.record_key(source)
            identifier.value = pseudonym
            _merge_mapping(self.scope.mapping, self.scope.ambiguous, {pseudonym: original})
            self.owner.field_counts["identifier_pseudonymized"] += 1
        self.visit(identifier, path)
        return identifier

    def reference(self, reference: Any, path: str) -> Any:
        target_type = reference.type.rsplit("/", 1)[-1] if reference.type else None
        if reference.reference is not None:
            original = reference.reference
            rewritten, resolved_type = self.owner.rewrite_reference(original)
            target_type = resolved_type or target_type
            reference.reference = rewritten
            if rewritten is None:
                self.owner.field_counts["reference_removed"] += 1
            elif rewritten != original:
                _merge_mapping(self.scope.mapping, self.scope.ambiguous, {rewritten: original})
        if reference.display:
            if target_type is None or target_type in PERSON_TYPES:
                [reference.display] = self.replace_names([reference.display])
            else:
                reference.display = self.text(reference.display, f"{path}.display")
        self.visit(reference, path)
        if reference.reference is None and reference.identifier is None and not reference.display:
            # An empty Reference is invalid FHIR, and some are required (Composition.author).
            reference.display = "[REFERENCE]"
        return reference

    def attachment(self, attachment: Any, path: str) -> Any:
        if attachment.data is not None:
            text = self.decode_attachment(attachment, path)
            result = self.deidentify_text(text, f"{path}.data")
            encoded = result.text.encode("utf-8")
            attachment.data = base64.b64encode(encoded).decode("ascii")
            attachment.size = len(encoded)
            if attachment.hash is not None:
                # FHIR R4 Attachment.hash is the base64 SHA-1 of the data.
                attachment.hash = base64.b64encode(hashlib.sha1(encoded).digest()).decode()
            self.owner.field_counts["attachment_deidentified"] += 1
        elif attachment.hash is not None:
            attachment.hash = None  # a hash of content that stays outside may confirm a guess
        if attachment.url is not None:
            # The URL may name the source system and document; the content is not fetched.
            attachment.url = None
            self.owner.field_counts["attachment_url_removed"] += 1
        self.visit(attachment, path)
        return attachment

    def decode_attachment(self, attachment: Any, path: str) -> str:
        """Decode base64 `text/plain` or `text/markdown` data; raise for anything else."""
        where = f"{self.scope.where}: {self.scope.resource_type}.{path}"
        content_type = attachment.contentType
        if not content_type:
            raise FhirInputError(
                f"{where}.contentType is missing; an attachment with data needs one "
                f"(one of {', '.join(TEXT_CONTENT_TYPES)})"
            )

        media, _, parameters = content_type.partition(";")
        media = media.strip().lower()
        if media not in TEXT_CONTENT_TYPES:
            shown = repr(media) if MEDIA_TYPE.fullmatch(media) else "(not a media type)"
            raise FhirInputError(
                f"{where}.contentType {shown} is not plain text; medsum de-identifies only "
                f"{', '.join(TEXT_CONTENT_TYPES)} attachments. Convert the document to text "
                "or remove its data."
            )
        charset = re.search(r"charset\s*=\s*\"?([A-Za-z0-9_\-]+)", parameters)
        if charset and charset.group(1).lower() not in TEXT_CHARSETS:
            raise FhirInputError(
                f"{where}.contentType declares a charset other than UTF-8; re-encode the "
                "attachment as UTF-8"
            )

        try:
            raw = base64.b64decode(re.sub(r"\s+", "", attachment.data), validate=True)
        except (binascii.Error, ValueError):
            raise FhirInputError(
                f"{where}.data is not valid base64; encode the attachment with standard "
                "base64 (RFC 4648, alphabet A-Z a-z 0-9 + /, padded with =)"
            ) from None

        if b"\x00" in raw:
            raise FhirInputError(
                f"{where}.data decodes to binary content (NUL bytes) although contentType "
                "says text; attach the text itself"
            )
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FhirInputError(
                f"{where}.data is not UTF-8 text (invalid byte at offset {exc.start}); "
                "re-encode the attachment as UTF-8"
            ) from None

    def narrative(self, narrative: Any, path: str) -> Any:
        if narrative.div:
            narrative.div = self.xhtml(narrative.div, f"{path}.div")
        self.visit(narrative, path)
        return narrative

    def xhtml(self, div: str, path: str) -> str:
        where = f"{self.scope.where}: {self.scope.resource_type}.{path}"
        return deidentify_xhtml(div, where, lambda text: self.text(text, path))

    # -- text

    def text(self, value: str, path: str) -> str:
        return self.deidentify_text(value, path).text

    def deidentify_text(self, value: str, path: str) -> DeidResult:
        result = self.deid.deidentify(
            value, self.scope.patient_id, known_names=self.scope.known_names
        )
        _merge_mapping(self.scope.mapping, self.scope.ambiguous, result.mapping)
        self.owner.entity_counts.update(span.entity_type for span in result.spans)
        self.scope.traces.append(
            {
                "resource": self.scope.key,
                "field": f"{self.scope.resource_type}.{path}",
                "spans": [span.to_json() for span in result.spans],
            }
        )
        return result


# ---- Files ---------------------------------------------------------------------------------


def deidentify_fhir_file(
    input_path: Path, output_dir: Path, deid: Deidentifier, *, today: date | None = None
) -> dict[str, Any]:
    """De-identify a FHIR JSON or NDJSON file into `output_dir` and return the report.

    Files written:
    - `resources.ndjson`: one de-identified input resource or Bundle per line;
    - `trace.jsonl`: the span decisions of each text field, without text;
    - `vault.sqlite`: the encrypted surrogate-to-original mapping of each resource, by new id;
    - `progress.jsonl`: one line per finished input item (see `deidentify/fhir_progress.py`);
    - `policy.json`, `key-fingerprint.json`: the run state (see `deidentify/resume.py`);
    - `report.json`: counts per resource type, entity type and field change, without text.

    Items are appended one at a time, so a run that stops resumes after the last item written
    and gives the output of an uninterrupted run. Nothing is written when any resource fails
    FHIR R4 validation. Raises ResumeError when `output_dir` contains output of another policy,
    HMAC key or input.
    """
    started = time.perf_counter()
    items = read_fhir_file(input_path)
    digests = [item_digest(deid.surrogates, data) for _, data in items]
    fhir = FhirDeidentifier(deid, today=today)
    models = fhir.prepare(items)
    check_resume(output_dir, deid.policy, deid.keys, output_name=RESOURCES_FILE)

    output_dir.mkdir(parents=True, exist_ok=True)
    done = load_progress(output_dir, RESOURCES_FILE, TRACE_FILE)
    check_inputs(done, digests, [where for where, _ in items], output_dir)
    fhir.today = reference_day(done, today)
    record_run_state(output_dir, deid.policy, deid.keys)
    skipped = len(done)
    check_registry_present(output_dir, skipped)
    logger.info(
        "de-identifying %d FHIR input items (%d already done, resuming)",
        len(models) - skipped,
        skipped,
    )

    registry_path = output_dir / NAME_REGISTRY_NAME
    with attached_registry(deid.surrogates, registry_path):
        vault = Vault(output_dir / "vault.sqlite", deid.keys)
        try:
            with (
                (output_dir / RESOURCES_FILE).open("a", encoding="utf-8") as resources_out,
                (output_dir / TRACE_FILE).open("a", encoding="utf-8") as trace_out,
                (output_dir / PROGRESS_FILE).open("a", encoding="utf-8") as progress_out,
            ):
                for index in range(skipped, len(models)):
                    where, model = models[index]
                    result = fhir.deidentify_item(where, model)
                    for key, mapping in result.mappings.items():
                        vault.put(key, mapping)
                    for trace in result.traces:
                        trace_out.write(json.dumps({"item": index, **trace}) + "\n")
                    [resource] = result.resources
                    resources_out.write(json.dumps(resource, ensure_ascii=False) + "\n")
                    counts = {
                        "resource_counts": result.resource_counts,
                        "entity_counts": result.entity_counts,
                        "field_counts": result.field_counts,
                    }
                    entry = progress_entry(index, digests[index], fhir.today, counts)
                    progress_out.write(json.dumps(entry) + "\n")
                    # The progress line goes to disk last, because it marks the item as finished.
                    for handle in (trace_out, resources_out, progress_out):
                        handle.flush()
                    done.append(entry)
            vault_entries = len(vault.records())
        finally:
            vault.close()

    resource_counts = total_counts(done, "resource_counts")
    report = {
        "format": "fhir-r4",
        "inputs": len(items),
        "processed_this_run": len(models) - skipped,
        "resource_counts": resource_counts,
        "entity_counts": total_counts(done, "entity_counts"),
        "field_counts": total_counts(done, "field_counts"),
        "vault_entries": vault_entries,
        "threshold": deid.threshold,
        "policy": deid.policy.describe(),
        "duration_s": round(time.perf_counter() - started, 2),
    }
    (output_dir / REPORT_FILE).write_text(json.dumps(report, indent=2))
    logger.info(
        "de-identified %d FHIR resources: %s",
        sum(resource_counts.values()),
        json.dumps(report["entity_counts"]),
    )
    return report
