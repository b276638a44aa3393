"""Score PHI detections against Presidio-style JSON span annotations.

The input layout is presidio-research's (`data/synth_dataset_v2.json` in
github.com/microsoft/presidio-research): a JSON list of objects, each with `full_text` and
`spans`, where a span has `entity_type`, `start_position` and `end_position` (0-based,
end-exclusive character offsets into `full_text`). Other fields, such as `entity_value`,
`masked` and `template_id`, are not read.

Dataset labels map to medsum's entity types as `LABEL_MAP` lists. A label mapped to `None` names
something medsum does not treat as PHI: its gold spans are left out of recall, and a detection
that overlaps only such spans is left out of precision (counted in `detections_on_ignored`).

| dataset label | medsum type | note |
|---|---|---|
| PERSON | PERSON | |
| STREET_ADDRESS, GPE, ZIP_CODE | LOCATION | Safe Harbor removes geographic units below a state |
| DATE_TIME | DATE | bare years and weekdays are kept by medsum (Safe Harbor allows years) |
| AGE | AGE | medsum keeps ages of 89 and below, as Safe Harbor allows |
| PHONE_NUMBER, EMAIL_ADDRESS, US_SSN, IP_ADDRESS, CREDIT_CARD, IBAN_CODE | same name | |
| DOMAIN_NAME | URL | |
| US_DRIVER_LICENSE | LICENSE_NUMBER | found after a label ("DL#", "driver's license") |
| ORGANIZATION | None | no medsum type; employer names are PHI under Safe Harbor |
| TITLE | None | honorifics and job titles |
| NRP | None | nationality, religious or political group |

Figures, each as recall, precision and F1:
- `span_any_overlap`: a gold span is found when any detection overlaps it, and a detection is
  correct when it overlaps any gold span (the PhysioNet deid rule, type-blind);
- `span_any_overlap_typed`: the same, but the detection's type must equal the gold span's type;
- `span_exact`, `span_exact_typed`: start and end offsets must both match;
- `token`, `token_typed`: per token (`\\w+` runs and single punctuation marks), a token is PHI
  when it overlaps a span, as presidio-research's evaluator counts tokens.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deidentify.batch import DEFAULT_BATCH_SIZE, detect_many
from deidentify.deidentifier import Deidentifier, Span
from deidentify.engine import DEFAULT_SPACY_MODEL

LABEL_MAP: dict[str, str | None] = {
    "PERSON": "PERSON",
    "STREET_ADDRESS": "LOCATION",
    "GPE": "LOCATION",
    "ZIP_CODE": "LOCATION",
    "DATE_TIME": "DATE",
    "AGE": "AGE",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "US_SSN": "US_SSN",
    "IP_ADDRESS": "IP_ADDRESS",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN_CODE",
    "DOMAIN_NAME": "URL",
    "US_DRIVER_LICENSE": "LICENSE_NUMBER",
    "ORGANIZATION": None,
    "TITLE": None,
    "NRP": None,
    # Labels that already name a medsum type, as other Presidio-style files use them.
    "LOCATION": "LOCATION",
    "DATE": "DATE",
    "URL": "URL",
    "MEDICAL_RECORD_NUMBER": "MEDICAL_RECORD_NUMBER",
}

TOKEN = re.compile(r"\w+|[^\w\s]")
# Labels are quoted in errors only when they look like a label, never when they may be text.
_QUOTABLE_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,39}")
IGNORED = "IGNORED"
OUTSIDE = "O"


class PresidioJsonError(ValueError):
    """Raised when a file is not in the Presidio-style JSON layout. Messages never quote text."""


@dataclass(frozen=True)
class GoldSpan:
    start: int
    end: int
    label: str

    @property
    def entity_type(self) -> str | None:
        return LABEL_MAP[self.label]


@dataclass(frozen=True)
class Example:
    """One annotated text: the text and its gold spans."""

    text: str
    spans: tuple[GoldSpan, ...]


def _require(record: dict[str, Any], name: str, kind: type, where: str) -> Any:
    if name not in record:
        raise PresidioJsonError(f"{where}: missing field {name!r}")
    value = record[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise PresidioJsonError(
            f"{where}: field {name!r} is a {type(value).__name__}; expected {kind.__name__}"
        )
    return value


def _read_span(raw: Any, text_length: int, where: str) -> GoldSpan:
    if not isinstance(raw, dict):
        raise PresidioJsonError(f"{where}: expected an object, got a {type(raw).__name__}")
    label = _require(raw, "entity_type", str, where)
    start = _require(raw, "start_position", int, where)
    end = _require(raw, "end_position", int, where)
    if label not in LABEL_MAP:
        label_text = repr(label) if _QUOTABLE_LABEL.fullmatch(label) else "(not a label)"
        raise PresidioJsonError(
            f"{where}: unknown entity_type {label_text}; expected one of {sorted(LABEL_MAP)}"
        )
    if not 0 <= start < end <= text_length:
        raise PresidioJsonError(
            f"{where}: offsets start_position={start}, end_position={end} do not fit a text of "
            f"{text_length} characters; expected 0 <= start < end <= length"
        )
    return GoldSpan(start, end, label)


def parse_examples(data: Any, source: str = "input") -> list[Example]:
    """Validate parsed JSON and return its examples."""
    if not isinstance(data, list):
        raise PresidioJsonError(
            f"{source}: the top level is a JSON {type(data).__name__}; expected a list of "
            "objects with 'full_text' and 'spans'"
        )
    if not data:
        raise PresidioJsonError(f"{source}: the list is empty; expected at least one record")
    examples = []
    for index, record in enumerate(data):
        where = f"{source}: record {index}"
        if not isinstance(record, dict):
            raise PresidioJsonError(f"{where}: expected an object, got a {type(record).__name__}")
        text = _require(record, "full_text", str, where)
        raw_spans = _require(record, "spans", list, where)
        spans = tuple(
            _read_span(raw, len(text), f"{where}, span {position}")
            for position, raw in enumerate(raw_spans)
        )
        examples.append(Example(text, spans))
    return examples


def read_examples(path: Path) -> list[Example]:
    """Read a Presidio-style JSON file (UTF-8)."""
    path = Path(path)
    if not path.is_file():
        raise PresidioJsonError(f"gold file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise PresidioJsonError(
            f"{path} is not valid UTF-8 (byte offset {exc.start}); re-encode it as UTF-8"
        ) from None
    except json.JSONDecodeError as exc:
        raise PresidioJsonError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})"
        ) from None
    return parse_examples(data, str(path))


def _overlaps(start: int, end: int, other_start: int, other_end: int) -> bool:
    return start < other_end and other_start < end


def _ratios(gold: int, found: int, detected: int, correct: int) -> dict[str, float | int]:
    recall = found / gold if gold else 0.0
    precision = correct / detected if detected else 0.0
    f1 = 2 * recall * precision / (recall + precision) if recall + precision else 0.0
    return {
        "gold": gold,
        "found": found,
        "detected": detected,
        "correct": correct,
        "recall": round(recall, 4),
        "precision": round(precision, 4),
        "f1": round(f1, 4),
    }


class _Tally:
    """Counts for one figure: gold spans found, detections correct."""

    def __init__(self) -> None:
        self.gold = self.found = self.detected = self.correct = 0

    def add(self, *, gold: int = 0, found: int = 0, detected: int = 0, correct: int = 0) -> None:
        self.gold += gold
        self.found += found
        self.detected += detected
        self.correct += correct

    def figures(self) -> dict[str, float | int]:
        return _ratios(self.gold, self.found, self.detected, self.correct)


FIGURES = (
    "span_any_overlap",
    "span_any_overlap_typed",
    "span_exact",
    "span_exact_typed",
    "token",
    "token_typed",
)
TYPED_FIGURES = ("span_any_overlap_typed", "span_exact_typed", "token_typed")


@dataclass
class _Scorer:
    overall: dict[str, _Tally]
    per_type: dict[str, dict[str, _Tally]]
    by_label: Counter[str]
    found_by_label: Counter[str]
    on_ignored: int = 0

    @classmethod
    def empty(cls) -> _Scorer:
        return cls({name: _Tally() for name in FIGURES}, {}, Counter(), Counter())

    def typed(self, entity_type: str, figure: str) -> _Tally:
        tallies = self.per_type.setdefault(entity_type, {name: _Tally() for name in TYPED_FIGURES})
        return tallies[figure]

    def add_spans(self, gold: Sequence[GoldSpan], detected: Sequence[Span]) -> None:
        scored = [g for g in gold if g.entity_type is not None]
        ignored = [g for g in gold if g.entity_type is None]
        for span in gold:
            self.by_label[span.label] += 1
            if any(_overlaps(span.start, span.end, d.start, d.end) for d in detected):
                self.found_by_label[span.label] += 1
        for span in scored:
            self._add_gold(span, str(span.entity_type), detected)
        for detection in detected:
            self._add_detection(detection, scored, ignored)

    def _add_gold(self, span: GoldSpan, entity_type: str, detected: Sequence[Span]) -> None:
        """Count one scored gold span as found or missed, for every span figure."""
        overlapping = [d for d in detected if _overlaps(span.start, span.end, d.start, d.end)]
        exact = [d for d in overlapping if (d.start, d.end) == (span.start, span.end)]
        self.overall["span_any_overlap"].add(gold=1, found=int(bool(overlapping)))
        self.overall["span_exact"].add(gold=1, found=int(bool(exact)))
        for figure, candidates in (
            ("span_any_overlap_typed", overlapping),
            ("span_exact_typed", exact),
        ):
            found = int(any(d.entity_type == entity_type for d in candidates))
            self.overall[figure].add(gold=1, found=found)
            self.typed(entity_type, figure).add(gold=1, found=found)

    def _add_detection(
        self, span: Span, scored: Sequence[GoldSpan], ignored: Sequence[GoldSpan]
    ) -> None:
        """Count one detection as correct or not, for every span figure."""
        hits = [g for g in scored if _overlaps(span.start, span.end, g.start, g.end)]
        if not hits and any(_overlaps(span.start, span.end, g.start, g.end) for g in ignored):
            self.on_ignored += 1
            return
        exact = [g for g in hits if (g.start, g.end) == (span.start, span.end)]
        self.overall["span_any_overlap"].add(detected=1, correct=int(bool(hits)))
        self.overall["span_exact"].add(detected=1, correct=int(bool(exact)))
        for figure, candidates in (
            ("span_any_overlap_typed", hits),
            ("span_exact_typed", exact),
        ):
            correct = int(any(g.entity_type == span.entity_type for g in candidates))
            self.overall[figure].add(detected=1, correct=correct)
            self.typed(span.entity_type, figure).add(detected=1, correct=correct)

    def add_tokens(self, text: str, gold: Sequence[GoldSpan], detected: Sequence[Span]) -> None:
        for token in TOKEN.finditer(text):
            start, end = token.span()
            gold_label = next(
                (g.entity_type or IGNORED for g in gold if _overlaps(start, end, g.start, g.end)),
                OUTSIDE,
            )
            predicted = next(
                (d.entity_type for d in detected if _overlaps(start, end, d.start, d.end)), OUTSIDE
            )
            if gold_label == IGNORED:
                continue
            is_gold, is_predicted = gold_label != OUTSIDE, predicted != OUTSIDE
            self.overall["token"].add(
                gold=int(is_gold),
                found=int(is_gold and is_predicted),
                detected=int(is_predicted),
                correct=int(is_gold and is_predicted),
            )
            match = is_gold and predicted == gold_label
            self.overall["token_typed"].add(
                gold=int(is_gold),
                found=int(match),
                detected=int(is_predicted),
                correct=int(match),
            )
            if is_gold:
                self.typed(gold_label, "token_typed").add(gold=1, found=int(match))
            if is_predicted:
                self.typed(predicted, "token_typed").add(detected=1, correct=int(match))


def score(examples: Sequence[Example], detections: Sequence[Sequence[Span]]) -> dict[str, Any]:
    """Score detections (one list per example, in order) against the examples' gold spans."""
    if len(examples) != len(detections):
        raise ValueError(
            f"got {len(detections)} detection lists for {len(examples)} examples; "
            "pass one list per example, in the same order"
        )
    scorer = _Scorer.empty()
    for example, detected in zip(examples, detections, strict=True):
        scorer.add_spans(example.spans, detected)
        scorer.add_tokens(example.text, example.spans, detected)
    ignored = {label: n for label, n in scorer.by_label.items() if LABEL_MAP[label] is None}
    return {
        "texts": len(examples),
        "gold_spans": sum(scorer.by_label.values()),
        "scored_gold_spans": scorer.overall["span_any_overlap"].gold,
        "ignored_gold_spans": dict(sorted(ignored.items())),
        "detected_spans": sum(len(spans) for spans in detections),
        "detections_on_ignored": scorer.on_ignored,
        **{name: tally.figures() for name, tally in scorer.overall.items()},
        "per_type": {
            entity_type: {name: tally.figures() for name, tally in tallies.items()}
            for entity_type, tallies in sorted(scorer.per_type.items())
        },
        "recall_by_label": {
            label: {
                "gold": total,
                "found": scorer.found_by_label[label],
                "recall": round(scorer.found_by_label[label] / total, 4),
                "medsum_type": LABEL_MAP[label],
            }
            for label, total in sorted(scorer.by_label.items())
        },
        "label_map": {label: LABEL_MAP[label] for label in sorted(scorer.by_label)},
    }


def score_deidentifier(
    deid: Deidentifier,
    examples: Sequence[Example],
    *,
    workers: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> dict[str, Any]:
    """Run `deid.detect` over the examples' texts and score the spans."""
    started = time.perf_counter()
    texts = [example.text for example in examples]
    detections = detect_many(deid, texts, workers=workers, batch_size=batch_size)
    result = score(examples, detections)
    models = getattr(deid.analyzer.nlp_engine, "models", None) or [{}]
    result["settings"] = {
        "spacy_model": models[0].get("model_name"),
        "threshold": deid.threshold,
        "entities": list(deid.entities),
        "workers": workers,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return result


def presidio_default_detections(
    texts: Sequence[str], spacy_model: str = DEFAULT_SPACY_MODEL
) -> list[list[Span]]:
    """Run Presidio's default analyzer and map its entity types through `LABEL_MAP`.

    Presidio names its types as this dataset does (`DATE_TIME`, `NRP`...). Results whose type
    maps to None are dropped, because medsum would not report them. Types missing from the map
    are kept as they are, so they count as false positives where they hit no gold span.
    """
    from deidentify.bench import build_presidio_default

    analyzer = build_presidio_default(spacy_model)
    detections = []
    for text in texts:
        spans = []
        for result in analyzer.analyze(text, language="en"):
            entity_type = LABEL_MAP.get(result.entity_type, result.entity_type)
            if entity_type is None:
                continue
            metadata = result.recognition_metadata or {}
            recognizer = str(metadata.get("recognizer_name", "unknown"))
            spans.append(Span(result.start, result.end, entity_type, result.score, recognizer))
        detections.append(spans)
    return detections


SYSTEMS = ("medsum", "presidio-default")


def score_system(system: str, examples: Sequence[Example], *, workers: int = 1) -> dict[str, Any]:
    """Score `medsum` (its `Deidentifier`) or `presidio-default` on the examples."""
    if system == "medsum":
        result = score_deidentifier(Deidentifier.create(), examples, workers=workers)
    elif system == "presidio-default":
        started = time.perf_counter()
        detections = presidio_default_detections([example.text for example in examples])
        result = score(examples, detections)
        result["settings"] = {
            "spacy_model": DEFAULT_SPACY_MODEL,
            "recognizers": "Presidio's default registry, all entities",
            "seconds": round(time.perf_counter() - started, 1),
        }
    else:
        raise ValueError(f"unknown system {system!r}; expected one of {', '.join(SYSTEMS)}")
    return {"system": system, **result}
