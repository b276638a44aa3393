"""Over-redaction: the share of clinical content that de-identification removes.

Clinical content is found by a method that does not use the de-identifier:

- `medication`: medication names and classes from `data/clinical_content.txt`;
- `finding`: symptoms, signs and diagnoses from the same file;
- `measurement`: a number (digits or a number word) followed by a unit of dose or measure,
  such as "500 mg", "two puffs", "98.6 degrees" or "20 units".

An occurrence counts as removed when a detected PHI span overlaps it, and the span's entity type
is recorded as its cause. The de-identified text is searched again as a check: `after` counts
the occurrences left, which can exceed `before - removed` when a surrogate happens to contain a
term.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from deidentify.batch import DEFAULT_BATCH_SIZE, deidentify_many
from deidentify.deidentifier import Deidentifier, DeidResult, Span
from medsum.records import Record

TERMS_FILE = Path(__file__).parent / "data" / "clinical_content.txt"
CATEGORIES = ("medication", "finding", "measurement")

NUMBER_WORDS = (
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "fifteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty",
    "ninety", "hundred", "half",
)  # fmt: skip
_NUMBER_WORD = "(?:" + "|".join(NUMBER_WORDS) + ")"
UNITS = (
    r"mg/dl|mg|mcg|µg|g|kg|lbs?|pounds?|ml|cc|l|liters?|units?|iu|meq|mmol|milligrams?"
    r"|micrograms?|grams?|kilograms?|milliliters?|mmhg|bpm|beats per minute|percent|%|degrees?"
    r"|puffs?|tablets?|tabs?|pills?|capsules?|caps|drops?|teaspoons?|tablespoons?|ounces?|oz"
    r"|cm|mm|inches|times a day|times daily"
)
MEASUREMENT = re.compile(
    rf"(?<![\w.])(?:\d+(?:[.,]\d+)?|{_NUMBER_WORD}(?:[- ]{_NUMBER_WORD})?)"
    rf"\s?(?P<unit>{UNITS})(?![\w])",
    re.IGNORECASE,
)


@cache
def load_terms(path: Path = TERMS_FILE) -> dict[str, tuple[str, ...]]:
    """Read the term file into category -> terms, longest first."""
    terms: dict[str, list[str]] = {}
    category: str | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            category = line[1:-1]
            terms.setdefault(category, [])
            continue
        if category is None:
            raise ValueError(f"{path}:{number}: a term comes before the first [category] line")
        terms[category].append(line.lower())
    return {name: tuple(sorted(set(words), key=len, reverse=True)) for name, words in terms.items()}


@cache
def _term_pattern(category: str) -> re.Pattern[str]:
    words = load_terms()[category]
    return re.compile(
        r"(?<![\w'])(?:" + "|".join(re.escape(word) for word in words) + r")(?![\w'])",
        re.IGNORECASE,
    )


@dataclass(frozen=True)
class Occurrence:
    """One piece of clinical content in a text: where, which category and which term."""

    start: int
    end: int
    category: str
    term: str


def find_content(text: str) -> list[Occurrence]:
    """Return the clinical content in `text`; a measurement's term is its unit, lower case."""
    found = []
    for category in ("medication", "finding"):
        for match in _term_pattern(category).finditer(text):
            found.append(Occurrence(match.start(), match.end(), category, match.group(0).lower()))
    for match in MEASUREMENT.finditer(text):
        unit = match.group("unit").lower()
        found.append(Occurrence(match.start(), match.end(), "measurement", unit))
    return sorted(found, key=lambda occurrence: occurrence.start)


def _cause(occurrence: Occurrence, spans: Sequence[Span]) -> str | None:
    for span in spans:
        if span.start < occurrence.end and occurrence.start < span.end:
            return span.entity_type
    return None


class OverRedactionCounter:
    """Counts of clinical content over many texts, split by text kind (dialogue, note...)."""

    def __init__(self) -> None:
        self.before: Counter[tuple[str, str]] = Counter()
        self.after: Counter[tuple[str, str]] = Counter()
        self.removed: Counter[tuple[str, str]] = Counter()
        self.causes: Counter[tuple[str, str]] = Counter()
        self.removed_terms: Counter[tuple[str, str, str]] = Counter()
        self.texts: Counter[str] = Counter()

    def add(self, kind: str, original: str, result: DeidResult) -> None:
        self.texts[kind] += 1
        for occurrence in find_content(original):
            key = (kind, occurrence.category)
            self.before[key] += 1
            cause = _cause(occurrence, result.spans)
            if cause is not None:
                self.removed[key] += 1
                self.causes[(occurrence.category, cause)] += 1
                self.removed_terms[(occurrence.category, occurrence.term, cause)] += 1
        for occurrence in find_content(result.text):
            self.after[(kind, occurrence.category)] += 1

    def _figures(self, keys: Sequence[tuple[str, str]]) -> dict[str, Any]:
        before = sum(self.before[key] for key in keys)
        removed = sum(self.removed[key] for key in keys)
        return {
            "before": before,
            "removed": removed,
            "after": sum(self.after[key] for key in keys),
            "share_removed": round(removed / before, 5) if before else 0.0,
        }

    def report(self, top_terms: int = 15) -> dict[str, Any]:
        kinds = sorted(self.texts)
        every = [(kind, category) for kind in kinds for category in CATEGORIES]
        by_cause: Counter[str] = Counter()
        for (_, cause), count in self.causes.items():
            by_cause[cause] += count
        return {
            "texts": dict(sorted(self.texts.items())),
            "overall": self._figures(every),
            "by_category": {
                category: self._figures([(kind, category) for kind in kinds])
                for category in CATEGORIES
            },
            "by_kind": {
                kind: {
                    "all": self._figures([(kind, category) for category in CATEGORIES]),
                    **{category: self._figures([(kind, category)]) for category in CATEGORIES},
                }
                for kind in kinds
            },
            "removed_by_entity_type": dict(by_cause.most_common()),
            "removed_by_category_and_entity_type": {
                category: {
                    cause: count
                    for (name, cause), count in self.causes.most_common()
                    if name == category
                }
                for category in CATEGORIES
            },
            # Terms come from the term list (units for measurements), never from note text.
            "most_removed_terms": [
                {"category": category, "term": term, "entity_type": cause, "count": count}
                for (category, term, cause), count in self.removed_terms.most_common(top_terms)
            ],
        }


def measure_over_redaction(
    deid: Deidentifier,
    records: Sequence[Record],
    *,
    workers: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> dict[str, Any]:
    """De-identify each record's text (`dialogue`) and summary (`note`) and count the content.

    Each record's id is its patient id, as `read_mts_dialog` sets it, so surrogates stay
    consistent between a dialogue and its note.
    """
    texts: list[str] = []
    patients: list[str | None] = []
    kinds: list[str] = []
    for record in records:
        for kind, text in (("dialogue", record.text), ("note", record.summary)):
            if text:
                texts.append(text)
                patients.append(record.patient_id or record.id)
                kinds.append(kind)
    if not texts:
        raise ValueError("no texts to measure; the records are empty")
    started = time.perf_counter()
    results = deidentify_many(deid, texts, patients, workers=workers, batch_size=batch_size)
    counter = OverRedactionCounter()
    for kind, text, result in zip(kinds, texts, results, strict=True):
        counter.add(kind, text, result)
    report = counter.report()
    report["settings"] = {
        "records": len(records),
        "threshold": deid.threshold,
        "entities": list(deid.entities),
        "terms_file": f"deidentify/data/{TERMS_FILE.name}",
        "terms": {category: len(words) for category, words in load_terms().items()},
        "workers": workers,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return report


def write_report(report: dict[str, Any], output: Path) -> None:
    """Write `output.json` and a short `output.md` table."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "| text kind | content | before | removed | share removed |",
        "|---|---|---|---|---|",
    ]
    for kind, figures in report["by_kind"].items():
        for category in ("all", *CATEGORIES):
            row = figures[category]
            lines.append(
                f"| {kind} | {category} | {row['before']} | {row['removed']} | "
                f"{row['share_removed']:.2%} |"
            )
    causes = ", ".join(
        f"{name} {count}" for name, count in report["removed_by_entity_type"].items()
    )
    lines += ["", f"Removed occurrences by entity type: {causes or 'none'}."]
    output.with_suffix(".md").write_text("\n".join(lines) + "\n")
