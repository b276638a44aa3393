"""Detect PHI in text and replace it with surrogates, keeping a decision trace without text."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from presidio_analyzer import AnalyzerEngine, RecognizerResult
from spacy.lang.en.stop_words import STOP_WORDS as SPACY_STOP_WORDS

from deidentify.analysis import LONE_SURROGATE, analyze, extend_name, strip_invisible
from deidentify.casing import is_uncased
from deidentify.engine import DEFAULT_SPACY_MODEL, ENTITIES, build_analyzer
from deidentify.lexicons import is_english, is_first_name, person_names, region_names
from deidentify.policy import Action, Policy
from deidentify.recognizers.care_team import PERSON_VERBS
from deidentify.recognizers.results import with_bounds
from deidentify.surrogates import (
    NAME_TOKEN,
    TITLES,
    SurrogateGenerator,
    has_year,
    parse_date,
    redaction_tag,
)
from deidentify.transform import Replacement, transform
from medsum.keys import KeyStore

# A date right after one of these is a birth date ("DOB: 02/03/1931", "born on March 2, 1931").
BIRTH_DATE_CUE = re.compile(r"(?i)\b(?:dob|d\.o\.b\.?|date of birth|born(?: on)?)\W{0,3}\Z")
BIRTH_CUE_CHARS = 20
# Safe Harbor's oldest age that may be given as such; older ones are "90 or older".
MAX_AGE = 89
# Recall first: a missed identifier is a privacy incident, an extra redaction costs a few words.
DEFAULT_THRESHOLD = 0.4


def _load_terms() -> frozenset[str]:
    path = Path(__file__).parent / "data" / "clinical_terms.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )


# Words that the small spaCy model tags as names or places in clinical text, which are not PHI:
# speaker tags, greetings, and the medication and clinical terms in data/clinical_terms.txt.
ALLOW_TERMS = _load_terms() | {
    "doctor", "patient", "guest_family", "guest_clinician", "nurse", "md", "np", "pa",
    "ok", "okay", "hi", "hello", "yes", "no", "um", "uh", "mm-hmm",
}  # fmt: skip
STOP_WORDS = frozenset(word.lower() for word in SPACY_STOP_WORDS)


ZERO_WIDTH_SPACE = "\u200b"
DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Span:
    """One detection decision: where, what type, which recognizer, how sure. Never the text."""

    start: int
    end: int
    entity_type: str
    score: float
    recognizer: str

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "entity_type": self.entity_type,
            "score": round(self.score, 3),
            "recognizer": self.recognizer,
        }


@dataclass
class DeidResult:
    """De-identified text, the spans replaced and the surrogate-to-original mapping."""

    text: str
    spans: list[Span]
    mapping: dict[str, str] = field(repr=False)
    patient: str
    # Surrogates that replace two different originals in this text, so `mapping` leaves them out.
    ambiguous: frozenset[str] = field(default=frozenset(), repr=False)

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(span.entity_type for span in self.spans))


def _merge_same_type(results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Join overlapping spans of one entity type into their union, keeping the higher score.

    spaCy may find "s." where a pattern finds "s. roberto"; the union covers the whole name.
    """
    merged: list[RecognizerResult] = []
    for result in sorted(results, key=lambda r: (r.entity_type, r.start)):
        last = merged[-1] if merged else None
        if last is not None and last.entity_type == result.entity_type and result.start < last.end:
            keep = last if last.score >= result.score else result
            merged[-1] = RecognizerResult(
                entity_type=last.entity_type,
                start=last.start,
                end=max(last.end, result.end),
                score=keep.score,
                recognition_metadata=keep.recognition_metadata,
            )
        else:
            merged.append(result)
    return merged


def _resolve_overlaps(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Keep a non-overlapping set, preferring the higher score and then the longer span.

    The words of a weaker span that no stronger span covers stay, under the weaker span's type:
    where spaCy types "hartwell" a place inside "per ruth hartwell", "ruth" is still a name.
    """
    ordered = sorted(
        _merge_same_type(results), key=lambda r: (-r.score, -(r.end - r.start), r.start)
    )
    kept: list[RecognizerResult] = []
    for candidate in ordered:
        for start, end in _uncovered(text, candidate.start, candidate.end, kept):
            kept.append(with_bounds(candidate, start, end))
    return sorted(kept, key=lambda r: r.start)


def _uncovered(
    text: str, start: int, end: int, kept: list[RecognizerResult]
) -> list[tuple[int, int]]:
    """Return the parts of [start, end) outside every kept span, trimmed to letters and digits."""
    pieces = [(start, end)]
    for other in kept:
        split = []
        for piece_start, piece_end in pieces:
            if other.end <= piece_start or other.start >= piece_end:
                split.append((piece_start, piece_end))
                continue
            split.extend([(piece_start, min(piece_end, other.start)), (other.end, piece_end)])
        pieces = [(a, b) for a, b in split if a < b]
    if pieces == [(start, end)]:
        return pieces
    trimmed = []
    for piece_start, piece_end in pieces:
        while piece_start < piece_end and not text[piece_start].isalnum():
            piece_start += 1
        while piece_end > piece_start and not text[piece_end - 1].isalnum():
            piece_end -= 1
        # A piece cut off inside a word is no span of its own.
        inside = (piece_start != start and text[piece_start - 1].isalnum()) or (
            piece_end != end and text[piece_end].isalnum()
        )
        if piece_start < piece_end and not inside:
            trimmed.append((piece_start, piece_end))
    return trimmed


def _without_digits(text: str, result: RecognizerResult) -> RecognizerResult | None:
    """Cut a name span before its first digit; None when no letter is left before it.

    spaCy now and then runs a name into the phone number after it ("Okafor 617-555-0199"), and a
    name surrogate replaces letters only, so the digits would stay in the text. Cut here, the
    number is left to the phone and record recognizers.
    """
    if result.entity_type != "PERSON":
        return result
    digit = DIGIT.search(text, result.start, result.end)
    if digit is None:
        return result
    end = digit.start()
    while end > result.start and not text[end - 1].isalpha():
        end -= 1
    return with_bounds(result, result.start, end) if end > result.start else None


def _whole_word(text: str, span: Span) -> Span:
    """Widen a span that a non-ASCII letter cuts off ("Gri" of "Griﬃth") to the whole word.

    The recognizers match ASCII letters, and a letter that has no one-letter ASCII form (a
    ligature, a letter of another script) ends their match inside the word.
    """
    start, end = span.start, span.end
    while end < len(text) and text[end].isalpha() and not text[end].isascii():
        end += 1
    while end < len(text) and text[end].isalpha() and end > span.end:
        end += 1
    while start > 0 and text[start - 1].isalpha() and not text[start - 1].isascii():
        start -= 1
    if (start, end) == (span.start, span.end):
        return span
    return dataclasses.replace(span, start=start, end=end)


def _union(spans: list[Span]) -> list[Span]:
    """Join overlapping spans into their union, typed as the longer one."""
    joined: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -(s.end - s.start))):
        last = joined[-1] if joined else None
        if last is None or span.start >= last.end:
            joined.append(span)
            continue
        longer = last if last.end - last.start >= span.end - span.start else span
        joined[-1] = dataclasses.replace(
            longer, start=last.start, end=max(last.end, span.end), score=max(last.score, span.score)
        )
    return joined


def _is_kept_as_written(text: str, result: RecognizerResult) -> bool:
    """Return whether a detected span stays in the text: an allow-listed word (unless after a
    title, as in "Dr. May"), an age of 89 or less, or a US state or a country."""
    fragment = text[result.start : result.end]
    metadata = result.recognition_metadata or {}
    titled = metadata.get("recognizer_name") == "TitledNameRecognizer"
    if not titled and _is_allowed(result.entity_type, fragment):
        return True
    if result.entity_type == "AGE" and fragment.isdigit() and int(fragment) <= MAX_AGE:
        return True  # not an identifier under Safe Harbor, so neither replaced nor reported
    uncued = metadata.get("recognizer_name") in UNCUED_RECOGNIZERS
    name_or_place = result.entity_type in ("PERSON", "LOCATION")
    if uncued and name_or_place and _is_clinical_name_phrase(text, result.end, fragment):
        return True  # "TIMOTHY GRASS", "KELLY CLAMP"
    if result.entity_type == "PERSON" and metadata.get("recognizer_name") == "SpacyRecognizer":
        # spaCy types a lone country or state a person now and then ("going to Bermuda").
        return _is_region(fragment)
    return result.entity_type == "LOCATION" and _is_region(fragment)


# Recognizers that find a name without a cue, whose single first names a clinical noun after
# them can turn back into words.
UNCUED_RECOGNIZERS = frozenset({"SpacyRecognizer", "LexiconNameRecognizer"})
# Nouns after a first name that make it a clinical term: "timothy grass", "kelly clamp",
# "morgan lens", "dixie cup", "myrtle oil", "ebony colored". Surnames ("White") are left out.
CLINICAL_NAME_HEADS = re.compile(
    r"[ \t]+(?i:grass|grasses|clamps?|lens|lenses|cups?|oil|colou?red|pollen|"
    r"forceps|retractors?|scissors|tubes?|catheters?|splints?|positive|negative|pos|neg|titer)\b"
)


def _is_clinical_name_phrase(text: str, end: int, fragment: str) -> bool:
    """Return whether a first name is the first word of a clinical term ("KELLY CLAMP").

    The span is the name alone with the noun after it, or the name and the noun together.
    """
    words = fragment.split()
    if len(words) == 1:
        return CLINICAL_NAME_HEADS.match(text, end) is not None
    return len(words) == 2 and CLINICAL_NAME_HEADS.fullmatch(" " + words[1]) is not None


def _is_birth_date_over_89(text: str, span: Span) -> bool:
    """Return whether a DATE span is a birth date ("DOB 02/03/1931") more than 89 years ago."""
    if span.entity_type != "DATE":
        return False
    if not BIRTH_DATE_CUE.search(text, max(0, span.start - BIRTH_CUE_CHARS), span.start):
        return False
    parsed = parse_date(text[span.start : span.end])
    if parsed is None or not has_year(parsed[1]):
        return False
    born = parsed[0].date()
    today = date.today()
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return age > MAX_AGE


def _as_person(span: Span, text: str, names: set[str]) -> Span:
    """Retype a place span that is a name found elsewhere in the text ("LUCINDA IS HCP")."""
    if span.entity_type != "LOCATION":
        return span
    fragment = text[span.start : span.end]
    if fragment.lower() not in {name.lower() for name in names}:
        return span
    return Span(span.start, span.end, "PERSON", span.score, span.recognizer)


# Words after a first name that make it a person, not the town of that name ("Regina called").
PERSON_AFTER = re.compile(rf"\s+(?:{PERSON_VERBS}|(?i:at\s+bedside|in\s+to\s+visit))\b")


def _first_name_as_person(text: str, span: Span) -> Span:
    """Retype a place span that is one first name before a person's verb ("Regina called")."""
    if span.entity_type != "LOCATION":
        return span
    fragment = text[span.start : span.end]
    if " " in fragment or not is_first_name(fragment) or not PERSON_AFTER.match(text, span.end):
        return span
    return Span(span.start, span.end, "PERSON", span.score, span.recognizer)


def _is_census_name(entity_type: str, token: str) -> bool:
    return entity_type == "PERSON" and token.lower() in person_names()


def _is_region(fragment: str) -> bool:
    """Return whether a LOCATION fragment is a US state or a country and nothing more."""
    return " ".join(fragment.lower().split()).strip(".,") in region_names()


def _is_allowed(entity_type: str, fragment: str) -> bool:
    if entity_type not in ("PERSON", "LOCATION"):
        return False
    if entity_type == "LOCATION" and any(char.isdigit() for char in fragment):
        return False  # a ZIP or postal code has no name tokens but is PHI
    tokens = [t.lower() for t in NAME_TOKEN.findall(fragment)]
    return not tokens or all(t in ALLOW_TERMS or t in TITLES or t in STOP_WORDS for t in tokens)


class Deidentifier:
    """Presidio detection plus keyed, per-patient replacements chosen by a `Policy`."""

    def __init__(
        self,
        analyzer: AnalyzerEngine,
        keys: KeyStore,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        entities: list[str] | None = None,
        policy: Policy | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.keys = keys
        self.threshold = threshold
        self.entities = entities or list(ENTITIES)
        self.policy = policy or Policy()
        self.surrogates = SurrogateGenerator(keys.hmac_key)

    @classmethod
    def create(
        cls,
        keys: KeyStore | None = None,
        *,
        spacy_model: str = DEFAULT_SPACY_MODEL,
        policy: Policy | str | Path | None = None,
        full_pipeline: bool = False,
        **options: Any,
    ) -> Deidentifier:
        """Build the analyzer and a de-identifier; `policy` may be a policy YAML file path.

        `full_pipeline` runs spaCy's tagger, parser and lemmatizer too (see `build_analyzer`).
        """
        # The policy file is read before spaCy loads, so a bad file fails in a fraction of a second.
        if isinstance(policy, str | Path):
            policy = Policy.load(Path(policy))
        analyzer = build_analyzer(spacy_model, full_pipeline=full_pipeline)
        return cls(analyzer, keys or KeyStore.open(), policy=policy, **options)

    def pseudonym(self, patient_id: str | None) -> str:
        return self.surrogates.pseudonym(patient_id or "")

    @property
    def max_text_chars(self) -> int:
        """Maximum text length in characters that spaCy analyzes (`nlp.max_length`)."""
        return int(self.analyzer.nlp_engine.nlp["en"].max_length)  # type: ignore[attr-defined]

    def check_length(self, text: str, where: str) -> None:
        """Raise ValueError when `text` is too long for spaCy; `where` names it in the message.

        Call it before `batch.run_batched`, which swaps the analyzer's NLP engine for a wrapper.
        """
        if len(text) > self.max_text_chars:
            raise ValueError(
                f"{where} has {len(text)} characters, more than the {self.max_text_chars} that "
                "spaCy analyzes at once; split it into shorter texts"
            )

    def detect(self, text: str) -> list[Span]:
        """Return the PHI spans in `text` above the threshold, overlaps resolved.

        Invisible characters are left out while detecting (`strip_invisible`); a span that
        contains one in `text` covers it.
        """
        spans = self._detect_mapped(text)
        if ZERO_WIDTH_SPACE in text:
            # A zero-width space may split one word ("Oka|for") or stand between two
            # ("Okafor|617-555-0199"), so the text is read both ways and the spans joined.
            spaced = self._detect_mapped(text.replace(ZERO_WIDTH_SPACE, " "))
            spans = _union(spans + spaced)
        return spans

    def _detect_mapped(self, text: str) -> list[Span]:
        visible, positions = strip_invisible(text)
        spans = self._detect_visible(visible)
        if positions is None:
            return spans
        return [
            dataclasses.replace(span, start=positions[span.start], end=positions[span.end - 1] + 1)
            for span in spans
        ]

    def _detect_visible(self, text: str) -> list[Span]:
        results = analyze(self.analyzer, text, entities=self.entities, threshold=self.threshold)
        # Spans that are kept as written leave before overlaps are resolved: a place span
        # "Georgia" that is a state must not push aside the name "Georgia Okafor".
        results = [result for result in results if not _is_kept_as_written(text, result)]
        results = [trimmed for result in results if (trimmed := _without_digits(text, result))]
        spans = []
        for result in _resolve_overlaps(text, results):
            if _is_kept_as_written(text, result):
                continue
            metadata = result.recognition_metadata or {}
            spans.append(
                Span(
                    start=result.start,
                    end=result.end,
                    entity_type=result.entity_type,
                    score=float(result.score),
                    recognizer=str(metadata.get("recognizer_name", "unknown")),
                )
            )
        spans = [_first_name_as_person(text, _whole_word(text, span)) for span in spans]
        spans = self._propagate(text, spans, "PERSON", "SameNoteNamePropagation")
        return self._propagate(text, spans, "LOCATION", "SameNotePlacePropagation")

    @staticmethod
    def _propagate(text: str, spans: list[Span], entity_type: str, recognizer: str) -> list[Span]:
        """Mark every other mention of a detected name or place token in the same text.

        A name found once ("it's Sven Mbeki") is then also caught where no recognizer fires
        ("How old are you now, Sven?"); a hospital found after "transferred to" ("BXH") is caught
        again in "arrival at BXH". A token spreads only when it is no English word or, for
        names, a census name ("Rose"). A spread name widens over a given name before it, and a
        place span that is a found name becomes a name.
        """
        tokens = {
            token
            for span in spans
            if span.entity_type == entity_type
            for token in NAME_TOKEN.findall(text[span.start : span.end])
            if len(token) > 1
            and token[0].isupper()
            and token.lower() not in ALLOW_TERMS | TITLES | STOP_WORDS
            and (not is_english(token) or _is_census_name(entity_type, token))
        }
        if not tokens:
            return spans
        long_tokens = sorted((t for t in tokens if len(t) > 3), key=len, reverse=True)
        short_tokens = sorted((t for t in tokens if len(t) <= 3), key=len, reverse=True)
        matches = []
        if long_tokens:
            pattern = re.compile(
                r"(?<![\w])(?:" + "|".join(map(re.escape, long_tokens)) + r")(?![\w])",
                re.IGNORECASE,
            )
            matches += list(pattern.finditer(text))
        if short_tokens:
            # A short name matches in any case but lower case ("Roe", "ROE", not "roe"); a short
            # place only as written ("BXH").
            flags = re.IGNORECASE if entity_type == "PERSON" else 0
            pattern = re.compile(
                r"(?<![\w\-])(?:" + "|".join(map(re.escape, short_tokens)) + r")(?![\w\-])",
                flags,
            )
            matches += [m for m in pattern.finditer(text) if not m.group(0).islower()]
        extra: list[Span] = []
        uncased = is_uncased(text)
        for match in matches:
            start, end = match.start(), match.end()
            if entity_type == "PERSON":
                # "pt Vikram Ellis" after "Dr. Ellis": the given name joins the spread surname.
                start, end = extend_name(text, start, end, uncased=uncased)
            if all(end <= s.start or start >= s.end for s in spans + extra):
                extra.append(Span(start, end, entity_type, 0.5, recognizer))
        if entity_type == "PERSON":
            spans = [_as_person(span, text, tokens) for span in spans]
        return sorted(spans + extra, key=lambda span: span.start)

    def deidentify(
        self, text: str, patient_id: str | None = None, *, known_names: Sequence[str] = ()
    ) -> DeidResult:
        """Replace every detected span by the policy action for its entity type.

        `known_names` are the patient's names from structured fields, such as the parts of a
        FHIR HumanName. Their tokens are replaced wherever they occur, even where no recognizer
        fires, and get the surrogates that `replace_values` gives the same names.
        """
        patient = self.pseudonym(patient_id)
        # A lone surrogate code point could not be written as UTF-8; U+FFFD keeps the offsets.
        text = LONE_SURROGATE.sub("\ufffd", text)
        spans = _mark_known_names(text, self.detect(text), known_names)
        pieces: list[str] = []
        mapping: dict[str, str] = {}
        ambiguous: set[str] = set()
        taken: dict[str, str] = {}
        for name in known_names:
            self._replace_value("PERSON", name, patient, taken, {}, set())
        cursor = 0
        for span in spans:
            original = text[span.start : span.end]
            action = self.policy.action_for(span.entity_type)
            replacement = transform(
                action, self.surrogates, span.entity_type, original, patient, taken
            )
            if action is Action.SURROGATE and _is_birth_date_over_89(text, span):
                # A shifted birth date still shows an age over 89, which Safe Harbor groups
                # as "90 or older"; the date goes.
                replacement = Replacement(redaction_tag("DATE"), reversible=False)
            pieces.append(text[cursor : span.start])
            pieces.append(replacement.text)
            cursor = span.end
            if replacement.reversible:
                _add_mapping(mapping, ambiguous, replacement.text, original)
                # Surrogates and pseudonyms replace a name word by word.
                if span.entity_type == "PERSON":
                    self._map_name_tokens(
                        original, replacement.text, action, patient, mapping, ambiguous
                    )
        pieces.append(text[cursor:])
        return DeidResult(
            text="".join(pieces),
            spans=spans,
            mapping=mapping,
            patient=patient,
            ambiguous=frozenset(ambiguous),
        )

    def replace_values(
        self,
        entity_type: str,
        values: Sequence[str],
        patient_id: str | None = None,
        *,
        known_names: Sequence[str] = (),
    ) -> tuple[list[str], dict[str, str]]:
        """Replace structured field values with the policy action for their entity type.

        Returns the replacements, in the order of `values`, and their surrogate-to-original
        mapping. `known_names` are drawn first, in order, as `deidentify` draws them, so a
        name field gets the same surrogate as that name in the patient's notes.
        """
        patient = self.pseudonym(patient_id)
        taken: dict[str, str] = {}
        for name in known_names:
            self._replace_value("PERSON", name, patient, taken, {}, set())
        mapping: dict[str, str] = {}
        ambiguous: set[str] = set()
        replacements = [
            self._replace_value(entity_type, value, patient, taken, mapping, ambiguous)
            for value in values
        ]
        return replacements, mapping

    def _replace_value(
        self,
        entity_type: str,
        original: str,
        patient: str,
        taken: dict[str, str],
        mapping: dict[str, str],
        ambiguous: set[str],
    ) -> str:
        action = self.policy.action_for(entity_type)
        replacement = transform(action, self.surrogates, entity_type, original, patient, taken)
        if replacement.reversible:
            _add_mapping(mapping, ambiguous, replacement.text, original)
            if entity_type == "PERSON":
                self._map_name_tokens(
                    original, replacement.text, action, patient, mapping, ambiguous
                )
        return replacement.text

    def _map_name_tokens(
        self,
        original: str,
        replacement: str,
        action: Action,
        patient: str,
        mapping: dict[str, str],
        ambiguous: set[str],
    ) -> None:
        """Map each word's replacement back to the word, so a lone "Roe" re-identifies too."""
        originals = NAME_TOKEN.findall(original)
        if action is Action.PSEUDONYM:
            for source in originals:
                if source.lower().rstrip(".") not in TITLES:
                    token = self.surrogates.pseudonym_token("PERSON", source, patient)
                    _add_mapping(mapping, ambiguous, token, source)
            return
        if action is not Action.SURROGATE:
            return
        replacements = NAME_TOKEN.findall(replacement)
        if len(originals) != len(replacements):
            return
        for source, surrogate in zip(originals, replacements, strict=True):
            if source != surrogate and len(surrogate) > 1:
                _add_mapping(mapping, ambiguous, surrogate, source)


def _mark_known_names(text: str, spans: list[Span], names: Sequence[str]) -> list[Span]:
    """Add a PERSON span for each mention of a known name token that no span covers yet.

    Tokens that are also common words or clinical terms ("May", "Will") match only with the
    capitals of the structured field. A LOCATION span that is exactly a known name token
    becomes PERSON, so it gets the name's surrogate.
    """
    tokens = {
        token
        for name in names
        for token in NAME_TOKEN.findall(name)
        if len(token) > 1 and token.lower() not in TITLES
    }
    common = {token for token in tokens if token.lower() in ALLOW_TERMS | STOP_WORDS}
    patterns = [
        re.compile(
            r"(?<!\w)(?:"
            + "|".join(sorted(map(re.escape, group), key=len, reverse=True))
            + r")(?!\w)",
            flags,
        )
        for group, flags in ((tokens - common, re.IGNORECASE), (common, 0))
        if group
    ]
    found = sorted({(m.start(), m.end()) for pattern in patterns for m in pattern.finditer(text)})
    marked = list(spans)
    for start, end in found:
        same = [i for i, span in enumerate(marked) if (span.start, span.end) == (start, end)]
        if same:
            span = marked[same[0]]
            if span.entity_type == "LOCATION":
                marked[same[0]] = Span(start, end, "PERSON", span.score, "StructuredName")
        elif all(end <= span.start or start >= span.end for span in marked):
            marked.append(Span(start, end, "PERSON", 1.0, "StructuredName"))
    return sorted(marked, key=lambda span: span.start)


def _add_mapping(
    mapping: dict[str, str], ambiguous: set[str], surrogate: str, original: str
) -> None:
    """Record surrogate -> original unless two originals share the surrogate.

    Surrogate pools are small, so two names of one patient can draw the same surrogate. Such a
    surrogate is dropped from the mapping: re-identification then leaves it as it is, which is
    better than restoring the wrong person. Originals that differ only in letter case ("Roe",
    "ROE") share a name pseudonym; the first spelling is kept.
    """
    if surrogate in ambiguous:
        return
    known = mapping.get(surrogate, original)
    if known != original and known.lower() == original.lower():
        return
    if known != original:
        del mapping[surrogate]
        ambiguous.add(surrogate)
        return
    mapping[surrogate] = original


def merge_mappings(results: Sequence[DeidResult]) -> dict[str, str]:
    """Merge the mappings of texts stored under one vault entry, such as a note and its summary.

    Each text draws its name surrogates on its own, and towns come from a small pool, so one
    surrogate can replace one original in the note and another in the summary. As
    `_add_mapping` does within one text, a surrogate that replaces two originals anywhere is
    dropped, because restoring the wrong person is worse than leaving the surrogate.
    """
    ambiguous = set().union(*(result.ambiguous for result in results))
    mapping: dict[str, str] = {}
    for result in results:
        for surrogate, original in result.mapping.items():
            _add_mapping(mapping, ambiguous, surrogate, original)
    return mapping


def reidentify(text: str, mapping: dict[str, str]) -> str:
    """Put the originals back in place of their surrogates, longest surrogate first."""
    if not mapping:
        return text
    ordered = sorted(mapping, key=len, reverse=True)
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(s)}(?!\w)" for s in ordered))
    return pattern.sub(lambda match: mapping[match.group(0)], text)
