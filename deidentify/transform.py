"""Apply a policy action to one PHI value: redaction tag, realistic surrogate or keyed pseudonym.

No action returns the original value, with one exception: `surrogate` keeps an age of 89 or less,
because Safe Harbor does not count it as an identifier. The detector does not report such ages,
so only a caller that passes one directly gets it back.
"""

from __future__ import annotations

from dataclasses import dataclass

from deidentify.policy import Action
from deidentify.surrogates import NAME_TOKEN, TITLES, SurrogateGenerator, redaction_tag
from deidentify.zipcode import is_zip_code


@dataclass(frozen=True)
class Replacement:
    """Text that replaces a span, and whether the vault may map it back to the original."""

    text: str
    # False for redaction tags and for generalized values ("90+", "021XX") that stand for many
    # originals, so re-identification leaves them as written.
    reversible: bool


def transform(
    action: Action,
    generator: SurrogateGenerator,
    entity_type: str,
    original: str,
    patient: str,
    taken: dict[str, str] | None = None,
) -> Replacement:
    """Replace `original`, a span of `entity_type` for `patient`, by the method `action` names.

    `taken` is the per-text record of name surrogates that `SurrogateGenerator.name_token` keeps.
    """
    if action is Action.REDACT:
        return Replacement(redaction_tag(entity_type), reversible=False)
    if action is Action.PSEUDONYM:
        if entity_type == "PERSON":
            return Replacement(name_pseudonyms(generator, original, patient), reversible=True)
        token = generator.pseudonym_token(entity_type, original, patient)
        return Replacement(token, reversible=True)
    text = generator.surrogate(entity_type, original, patient, taken)
    generalized = text == "90+" or (entity_type == "LOCATION" and is_zip_code(original))
    reversible = text != original and not text.startswith("[") and not generalized
    return Replacement(text, reversible=reversible)


def name_pseudonyms(generator: SurrogateGenerator, original: str, patient: str) -> str:
    """Replace each word of a name by its own keyed token, keeping titles and punctuation.

    "Jane Roe", "ROE, JANE" and a FHIR family name "Roe" then share the token for "Roe", as a
    surrogate name shares its surname. A token for the whole span would differ per spelling.
    """
    return NAME_TOKEN.sub(
        lambda match: (
            match.group(0)
            if match.group(0).lower().rstrip(".") in TITLES
            else generator.pseudonym_token("PERSON", match.group(0), patient)
        ),
        original,
    )
