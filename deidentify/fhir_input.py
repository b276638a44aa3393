"""Read FHIR R4 JSON and NDJSON files and validate resources with the `fhirclient` models.

`fhirclient` (SMART on FHIR) is generated from FHIR 4.0.1. The `fhir.resources` package is not
used because its R4 releases (6.0 to 6.2) need pydantic 1, and its later releases model R4B and
R5 only. Errors name the input line, the resource type and the field path, never a field value,
because a malformed file may carry note text anywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fhirclient.models.bundle import Bundle
from fhirclient.models.composition import Composition
from fhirclient.models.documentreference import DocumentReference
from fhirclient.models.fhirabstractbase import FHIRValidationError
from fhirclient.models.patient import Patient

MODEL_CLASSES: dict[str, type[Any]] = {
    "Bundle": Bundle,
    "Composition": Composition,
    "DocumentReference": DocumentReference,
    "Patient": Patient,
}
SUPPORTED_RESOURCE_TYPES = tuple(sorted(MODEL_CLASSES))
NDJSON_SUFFIXES = (".ndjson", ".jsonl")
# Problems listed in one validation error; the rest are counted.
MAX_LISTED_PROBLEMS = 8
# Field and type names are shown in errors only when they have these shapes.
FIELD_NAME = re.compile(r"_?[A-Za-z][A-Za-z0-9]{0,63}")
RESOURCE_TYPE_NAME = re.compile(r"[A-Z][A-Za-z]{1,63}")


class FhirInputError(ValueError):
    """Raised for FHIR input that cannot be read or de-identified. Never quotes field values."""


def read_fhir_file(path: Path) -> list[tuple[str, Any]]:
    """Read a FHIR JSON file (one resource) or NDJSON file (one resource per line).

    Returns (location, parsed JSON) pairs, the location naming the line for error messages.
    """
    if not path.is_file():
        raise FhirInputError(f"input file not found: {path}")
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise FhirInputError(f"{path} looks binary (NUL bytes); expected FHIR JSON or NDJSON")
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FhirInputError(
            f"{path} is not valid UTF-8 (byte offset {exc.start}); FHIR JSON must be UTF-8"
        ) from None
    if path.suffix.lower() not in NDJSON_SUFFIXES:
        try:
            return [(str(path), json.loads(content))]
        except json.JSONDecodeError as exc:
            # "Extra data" after a complete value means one resource per line.
            if exc.msg != "Extra data":
                raise FhirInputError(
                    f"{path}: invalid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
                ) from None
    items = []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((f"{path}:{number}", json.loads(line)))
        except json.JSONDecodeError as exc:
            raise FhirInputError(
                f"{path}:{number}: invalid JSON ({exc.msg} at column {exc.colno}); NDJSON needs "
                "one complete resource per line"
            ) from None
    if not items:
        raise FhirInputError(f"{path} contains no FHIR resources")
    return items


def parse_resource(data: Any, where: str) -> Any:
    """Validate `data` as a FHIR R4 resource of a supported type and return its model."""
    _check_resource_types(data, where, "")
    resource_type = data["resourceType"]
    try:
        return MODEL_CLASSES[resource_type](data, strict=True)
    except FHIRValidationError as exc:
        problems = list(_validation_problems(exc, []))
        listed = "; ".join(problems[:MAX_LISTED_PROBLEMS])
        if len(problems) > MAX_LISTED_PROBLEMS:
            listed += f"; and {len(problems) - MAX_LISTED_PROBLEMS} more"
        raise FhirInputError(
            f"{where}: invalid FHIR R4 {resource_type}: {listed}. Correct or remove these fields."
        ) from None
    except Exception as exc:
        # fhirclient raises bare exceptions whose messages may quote the input.
        raise FhirInputError(
            f"{where}: invalid FHIR R4 {resource_type} ({type(exc).__name__})"
        ) from None


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else "null"


def _check_resource_types(data: Any, where: str, path: str) -> None:
    """Raise unless `data` and every resource nested in it has a supported resourceType."""
    label = path or "the resource"

    if not isinstance(data, dict):
        raise FhirInputError(
            f"{where}: {label} must be a JSON object (a FHIR resource), got a JSON "
            f"{_json_kind(data)}; a file of several resources must be NDJSON or a Bundle"
        )
    resource_type = data.get("resourceType")
    if not isinstance(resource_type, str):
        raise FhirInputError(f"{where}: {label} has no resourceType string")
    if resource_type not in MODEL_CLASSES:
        shown = (
            repr(resource_type)
            if RESOURCE_TYPE_NAME.fullmatch(resource_type)
            else "an invalid resourceType"
        )
        raise FhirInputError(
            f"{where}: {label} has resourceType {shown}, which medsum cannot de-identify; "
            f"supported types: {', '.join(SUPPORTED_RESOURCE_TYPES)}. Remove other resources "
            "from the input."
        )

    prefix = f"{path}." if path else ""
    nested: list[tuple[str, Any]] = []
    contained = data.get("contained")
    if isinstance(contained, list):
        nested += [(f"{prefix}contained[{i}]", item) for i, item in enumerate(contained)]
    entries = data.get("entry") if resource_type == "Bundle" else None
    if isinstance(entries, list):
        for i, entry in enumerate(entries):
            if isinstance(entry, dict) and "resource" in entry:
                nested.append((f"{prefix}entry[{i}].resource", entry["resource"]))
    for nested_path, item in nested:
        _check_resource_types(item, where, nested_path)


def _validation_problems(error: BaseException, path: list[str]) -> Iterator[str]:
    """Describe each leaf of a fhirclient validation error by field path, without values."""
    if isinstance(error, FHIRValidationError):
        inner_path = path + (error.path.split(".") if error.path else [])
        for inner in error.errors:
            yield from _validation_problems(inner, inner_path)
        return
    message = str(error.args[0]) if error.args else ""
    problem = "invalid value"
    field_match = re.search(r'(?:property|entry) "([^"]*)"', message)
    name = field_match.group(1) if field_match else ""
    if isinstance(error, KeyError) and name:
        path, problem = [*path, name], "missing required field"
    elif isinstance(error, AttributeError) and "Superfluous" in message:
        if FIELD_NAME.fullmatch(name):
            path, problem = [*path, name], "unknown field (not in the FHIR R4 definition)"
        else:
            problem = "unknown field (name not shown)"
    elif isinstance(error, TypeError):
        classes = [c.rsplit(".", 1)[-1] for c in re.findall(r"<class '([\w.]+)'>", message)]
        expected = {"str": "string", "int": "number", "float": "number", "bool": "boolean"}
        if message.startswith("Wrong type") and len(classes) >= 3:
            got, want = classes[0], classes[-1]
            problem = (
                f"wrong type (got {expected.get(got, got)}, expected {expected.get(want, want)})"
            )
        elif "Expecting string" in message:
            problem = "wrong type (expected a date or time string)"
        else:
            problem = "wrong type"
    elif isinstance(error, ValueError):
        problem = "invalid date or time format"
    yield f"{_format_path(path)}: {problem}"


def _format_path(parts: list[str]) -> str:
    """Write ["content", "0", "attachment"] as "content[0].attachment"."""
    text = ""
    for part in parts:
        if part.isdigit():
            text += f"[{part}]"
        elif text:
            text += f".{part}"
        else:
            text = part
    return text or "(resource)"
