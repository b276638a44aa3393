"""De-identify the XHTML `<div>` of a FHIR narrative (`text.div`, section `text.div`)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

from deidentify.fhir_input import FhirInputError

XHTML_NAMESPACE = "http://www.w3.org/1999/xhtml"
# XHTML text nodes cannot contain U+001F (XML 1.0 forbids it), and spaCy reads it as a space.
SLOT_SEPARATOR = " \x1f "


def deidentify_xhtml(div: str, where: str, deidentify_text: Callable[[str], str]) -> str:
    """De-identify the text and the `title`/`alt` attributes of a narrative `<div>`.

    All text nodes go to `deidentify_text` together, joined by a separator, so that a name
    split by inline markup keeps its context. `<img>` elements and external links are removed.
    """
    if re.search(r"<!(DOCTYPE|ENTITY)", div, re.IGNORECASE):
        raise FhirInputError(
            f"{where} contains a DOCTYPE or ENTITY declaration, which FHIR narrative does "
            "not allow; remove it"
        )
    try:
        root = ET.fromstring(div)
    except ET.ParseError as exc:
        line, column = exc.position
        raise FhirInputError(
            f"{where} is not well-formed XHTML (line {line}, column {column}); fix the markup"
        ) from None
    if root.tag != f"{{{XHTML_NAMESPACE}}}div":
        raise FhirInputError(
            f'{where} must be a <div xmlns="{XHTML_NAMESPACE}"> element, as FHIR requires'
        )

    _remove_images_and_links(root)
    for element in root.iter():
        for attribute in ("title", "alt"):
            if element.get(attribute):
                element.set(attribute, deidentify_text(element.get(attribute, "")))

    slots = _text_slots(root)
    texts = [getattr(element, kind) for element, kind in slots]
    pieces = deidentify_text(SLOT_SEPARATOR.join(texts)).split(SLOT_SEPARATOR)
    if len(pieces) != len(slots):
        # A detected span crossed an element boundary, so de-identify node by node instead.
        pieces = [deidentify_text(text) for text in texts]
    for (element, kind), piece in zip(slots, pieces, strict=True):
        setattr(element, kind, piece)

    try:
        return ET.tostring(root, encoding="unicode", default_namespace=XHTML_NAMESPACE)
    except ValueError:
        raise FhirInputError(
            f"{where} contains elements outside the XHTML namespace; FHIR narrative may use "
            "XHTML elements only"
        ) from None


def _remove_images_and_links(root: ET.Element) -> None:
    """Drop `<img>` elements and external `href`/`src` values, which may name a patient."""
    for parent in list(root.iter()):
        previous: ET.Element | None = None
        for child in list(parent):
            if child.tag == f"{{{XHTML_NAMESPACE}}}img":
                # Keep the text that followed the image.
                if child.tail:
                    if previous is not None:
                        previous.tail = (previous.tail or "") + child.tail
                    else:
                        parent.text = (parent.text or "") + child.tail
                parent.remove(child)
                continue
            previous = child
        for attribute in ("href", "src"):
            value = parent.get(attribute)
            if value is not None and not value.startswith("#"):
                del parent.attrib[attribute]


def _text_slots(root: ET.Element) -> list[tuple[ET.Element, str]]:
    """List the non-empty text nodes of `root` in document order, as (element, "text"/"tail")."""
    slots: list[tuple[ET.Element, str]] = []

    def collect(element: ET.Element, is_root: bool) -> None:
        if element.text:
            slots.append((element, "text"))
        for child in element:
            collect(child, False)
        if not is_root and element.tail:
            slots.append((element, "tail"))

    collect(root, True)
    return slots
