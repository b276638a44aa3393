"""Transformation policies: which action replaces the PHI spans of each entity type.

A policy is a YAML file (`configs/deid-policy.yaml` documents every key):

    default: surrogate
    entities:
      PHONE_NUMBER: redact
      MEDICAL_RECORD_NUMBER: pseudonym

Actions:
- `redact`: the entity's redaction tag (`[NAME]`, `[PHONE]`; `90+` for ages over 89).
- `surrogate`: a realistic replacement, keyed and consistent per patient (the built-in default).
- `pseudonym`: a keyed token such as `[NAME-3F9A2C]`, stable per patient and normalized value.

Errors raised while loading never quote the file's content beyond short configuration-like
tokens, because a file passed by mistake (a note export instead of a policy) must not put note
text into logs.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from deidentify.engine import ENTITIES
from deidentify.surrogates import REDACTION_TAGS

BUILT_IN_SOURCE = "built-in default"
EXAMPLE_FILE = "configs/deid-policy.yaml"
TOP_LEVEL_KEYS = ("default", "entities")
# Entity types a policy may name: those medsum requests from Presidio plus those with a tag.
ENTITY_TYPES = tuple(sorted(set(ENTITIES) | set(REDACTION_TAGS)))
# Errors quote keys and values that look like configuration tokens. Anything else may be text
# from a file passed by mistake, so errors describe it only by its type.
_QUOTABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,39}")
_QUOTABLE_TOP_LEVEL = re.compile(r"[a-z_][a-z0-9_\-]{0,39}")


class Action(StrEnum):
    """Replacement method for a detected span."""

    REDACT = "redact"
    SURROGATE = "surrogate"
    PSEUDONYM = "pseudonym"


ACTIONS = tuple(action.value for action in Action)


class PolicyError(ValueError):
    """Raised for a policy file that is missing, unreadable or invalid."""


def _describe(value: Any, pattern: re.Pattern[str] = _QUOTABLE) -> str:
    if isinstance(value, str) and pattern.fullmatch(value):
        return repr(value)
    return f"a {type(value).__name__} value"


def _parse_action(value: Any, where: str) -> Action:
    if isinstance(value, str) and value in ACTIONS:
        return Action(value)
    raise PolicyError(f"{where}: invalid action {_describe(value)}; valid actions: {list(ACTIONS)}")


def _check_entity_types(names: list[Any], where: str) -> None:
    unknown = [name for name in names if name not in ENTITY_TYPES]
    if unknown:
        described = ", ".join(_describe(name) for name in unknown)
        raise PolicyError(
            f"{where}: unknown entity type(s) {described}; valid entity types: {list(ENTITY_TYPES)}"
        )


@dataclass(frozen=True)
class Policy:
    """Action per entity type; entity types that are not listed get `default`."""

    default: Action = Action.SURROGATE
    entities: Mapping[str, Action] = field(default_factory=dict)
    # Where the policy came from, for reports and messages; not part of the fingerprint.
    source: str = field(default=BUILT_IN_SOURCE, compare=False)

    def __post_init__(self) -> None:
        where = f"policy {self.source}"
        object.__setattr__(self, "default", _parse_action(self.default, f"{where}: default"))
        _check_entity_types(list(self.entities), f"{where}: entities")
        actions = {
            name: _parse_action(action, f"{where}: entities.{name}")
            for name, action in self.entities.items()
        }
        object.__setattr__(self, "entities", MappingProxyType(actions))

    def action_for(self, entity_type: str) -> Action:
        return self.entities.get(entity_type, self.default)

    def fingerprint(self) -> str:
        """SHA-256 of the action of every entity type, so equivalent files hash the same."""
        resolved = {name: self.action_for(name).value for name in ENTITY_TYPES}
        canonical = json.dumps(
            {"default": self.default.value, "entities": resolved}, sort_keys=True
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def describe(self) -> dict[str, Any]:
        """Source, fingerprint and actions, as stored in corpus reports."""
        return {
            "source": self.source,
            "sha256": self.fingerprint(),
            "default": self.default.value,
            "entities": {name: action.value for name, action in sorted(self.entities.items())},
        }

    @classmethod
    def from_mapping(cls, raw: Any, *, source: str) -> Policy:
        """Build a policy from parsed YAML, raising PolicyError that names the invalid key."""
        if not isinstance(raw, dict):
            raise PolicyError(
                f"policy {source} must be a YAML mapping with the keys {list(TOP_LEVEL_KEYS)}, "
                f"got a {type(raw).__name__} at the top level; see {EXAMPLE_FILE}"
            )
        unknown = [key for key in raw if key not in TOP_LEVEL_KEYS]
        if unknown:
            described = ", ".join(_describe(key, _QUOTABLE_TOP_LEVEL) for key in unknown)
            raise PolicyError(
                f"policy {source}: unknown key(s) {described}; valid keys: {list(TOP_LEVEL_KEYS)}"
            )
        entities = raw.get("entities")
        if entities is None:
            entities = {}
        if not isinstance(entities, dict):
            raise PolicyError(
                f"policy {source}: entities must map entity types to actions, "
                f"for example `PHONE_NUMBER: redact`; got a {type(entities).__name__}"
            )
        return cls(
            default=raw.get("default", Action.SURROGATE.value),
            entities=entities,
            source=source,
        )

    @classmethod
    def load(cls, path: Path) -> Policy:
        """Read and validate a policy YAML file."""
        path = Path(path)
        hint = f"pass a policy YAML file such as {EXAMPLE_FILE}"
        if path.is_dir():
            raise PolicyError(f"policy file {path} is a directory; {hint}")
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PolicyError(f"policy file not found: {path}; {hint}") from None
        except UnicodeDecodeError:
            raise PolicyError(f"policy file {path} is not UTF-8 text; {hint}") from None
        except OSError as exc:
            raise PolicyError(
                f"policy file {path} cannot be read ({exc.strerror}); {hint}"
            ) from None
        try:
            # _UniqueKeyLoader is a SafeLoader, so no arbitrary Python objects are built.
            raw = yaml.load(text, Loader=_UniqueKeyLoader)
        except _DuplicateKeyError as exc:
            raise PolicyError(
                f"policy file {path} repeats a key at line {exc.line}; each key may appear once"
            ) from None
        except yaml.YAMLError as exc:
            # The parser's own message may quote the offending line, so only its position is shown.
            mark = getattr(exc, "problem_mark", None)
            position = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise PolicyError(f"policy file {path} is not valid YAML{position}; {hint}") from None
        if raw is None:
            raise PolicyError(
                f"policy file {path} is empty; it needs at least `default: surrogate` ({hint})"
            )
        return cls.from_mapping(raw, source=str(path))


class _DuplicateKeyError(yaml.YAMLError):
    def __init__(self, line: int) -> None:
        super().__init__(f"duplicate key at line {line}")
        self.line = line


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that rejects a key repeated in one mapping.

    PyYAML keeps the last of two equal keys, so `PERSON: redact` followed by `PERSON: surrogate`
    would silently weaken the policy.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # an unhashable key; SafeLoader raises its own error for it below
            if duplicate:
                raise _DuplicateKeyError(key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)
