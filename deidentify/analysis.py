"""Run Presidio on a note, then keep spaCy's names and places only where the words support them.

spaCy's small English model learned names from capital letters. An uncased note (all capitals
or all lower case) is analyzed in capitals, so the pattern recognizers see one layout, while
spaCy reads a truecased copy (see `casing.truecase`). In a cased note spaCy still tags
capitalized clinical words ("Neuro", "Propofol") and abbreviations ("CV") as PERSON or LOCATION,
so each of its spans must contain a word that can be a name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

from presidio_analyzer import AnalyzerEngine, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS as SPACY_STOP_WORDS
from spacy.tokens import Span as SpacySpan
from spacy.tokens import Token as SpacyToken

from deidentify.casing import is_uncased, to_upper_case, truecase
from deidentify.lexicons import (
    KINSHIP_WORDS,
    WORD,
    clinical_words,
    drug_names,
    first_names,
    is_clinical_prefix,
    is_english,
    is_first_name,
    is_known_name,
    is_misspelling,
    is_unknown_word,
    person_names,
    place_names,
)
from deidentify.recognizers.results import make_result, with_bounds

# Presidio entity names that spaCy labels are mapped to and that this module filters.
NAME_LABELS = frozenset({"PERSON", "LOCATION"})
# Text before a word that starts a line or sentence, where headings ("Neuro:") are written: a
# sentence end, a line break or a heading dash ("Neuro - Alert"), then only punctuation or spaces.
SENTENCE_START = re.compile(r"[.!?:;][^\w\n]*\Z|\n[^\w\n]*\Z|\w\s+-\s+\Z")
# Characters of text looked at before a word to tell whether it starts a sentence.
LOOKBEHIND_CHARS = 12
# The word right after a span, or right before it, across one space.
NEXT_WORD = re.compile(r" ([A-Za-z][A-Za-z'\-]+)\b")
PREVIOUS_WORD = re.compile(r"\b([A-Za-z][A-Za-z'\-]+) \Z")
# Verbs that follow a name and are census names too ("ROSE STATES", "OKAFOR CALLS").
VERBS_AFTER_NAMES = frozenset(
    {"states", "says", "asks", "calls", "visits", "stated", "called", "visited", "asked", "said"}
)
# The recognizer name and score of a name joined to a found one: below the cue recognizers.
COORDINATED_NAME = "NameJoinedByAnd"
COORDINATED_NAME_SCORE = 0.5
# A second name joined to a found one ("okafor and brixa", "Okafor & Vance").
NAME_AFTER_AND = re.compile(r" (?i:and|&) ([A-Za-z][A-Za-z'\-]+)\b")
NAME_BEFORE_AND = re.compile(r"\b([A-Za-z][A-Za-z'\-]+) (?i:and|&) \Z")
# An initial right before a name, with a period or as a capital other than "A" and "I"
# ("N. Okafor", "J SMITH"), but not after a digit ("2 L NP" is two litres by nasal prongs).
INITIAL_BEFORE = re.compile(r"(?<![\w.])(?<!\d )([A-Za-z]\.|[B-HJ-Z]) \Z")
# A title right before a word ("Dr. ", "Doctor ").
TITLE_BEFORE = re.compile(r"\b(?i:dr|doctor|mr|mrs|ms|miss)\.?\s+\Z")
STOP_WORDS = frozenset(word.lower() for word in SPACY_STOP_WORDS)
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Unicode categories that detection reads past: format characters (zero-width space and joiner,
# direction marks, soft hyphen, byte-order mark) and non-spacing and enclosing marks.
INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me"})


def fold_same_length(text: str) -> str:
    """Replace each character whose NFKC form is one other character by that form.

    Full-width and other compatibility letters (U+FF2F for "O") become the ASCII letters that
    the recognizers and word lists know, and every offset holds.
    """
    if text.isascii():
        return text
    return "".join(_fold_char(char) for char in text)


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    folded = unicodedata.normalize("NFKC", char)
    return folded if len(folded) == 1 else char


def readable_text(text: str) -> str:
    """Return the same-length copy of `text` that the recognizers and spaCy read.

    A lone surrogate (from a JSON "\\ud800" escape) cannot be encoded, and spaCy's tokenizer
    raises on it, so U+FFFD takes its place. Compatibility characters are folded
    (`fold_same_length`).
    """
    return fold_same_length(LONE_SURROGATE.sub("\ufffd", text))


def strip_invisible(text: str) -> tuple[str, list[int] | None]:
    """Return `text` without format characters and combining marks, and where each kept
    character stood (None when nothing was removed).

    A zero-width space, a direction mark or a combining accent inside "Okafor" or "4417283" is
    invisible to a reader but splits the word for every recognizer. So detection reads the text
    without them and maps its spans back.
    """
    if text.isascii():
        return text, None
    positions = [index for index, char in enumerate(text) if not _is_invisible(char)]
    if len(positions) == len(text):
        return text, None
    return "".join(text[index] for index in positions), positions


def _is_invisible(char: str) -> bool:
    return unicodedata.category(char) in INVISIBLE_CATEGORIES


def analyze(
    analyzer: AnalyzerEngine, text: str, *, entities: list[str], threshold: float
) -> list[RecognizerResult]:
    """Return Presidio's results for `text`, with spaCy's unsupported names and places removed.

    spaCy's entities are filtered before the recognizers run, because Presidio drops a pattern
    match that lies inside a higher-scoring spaCy span. The upper-case and truecased copies of
    an uncased text have its length, so every offset holds.
    """
    text = readable_text(text)
    uncased = is_uncased(text)
    if uncased:
        truecased = truecase(text)
        nlp_artifacts = analyzer.nlp_engine.process_text(truecased, "en")
        _filter_entities(nlp_artifacts, lambda entity: _trim_to_capitals(truecased, entity))
        analyzed_text = to_upper_case(text)
    else:
        nlp_artifacts = analyzer.nlp_engine.process_text(text, "en")
        _filter_entities(
            nlp_artifacts,
            lambda entity: _trim_words(entity) if _has_name_word(text, entity) else None,
        )
        analyzed_text = text
    _lower_case_lemmas(analyzer, nlp_artifacts)
    results = analyzer.analyze(
        text=analyzed_text,
        language="en",
        entities=entities,
        score_threshold=threshold,
        nlp_artifacts=nlp_artifacts,
    )
    extended = [_extend_name(text, result, uncased=uncased) for result in results]
    return extended + _coordinated_names(text, extended, uncased=uncased)


def _coordinated_names(
    text: str, results: list[RecognizerResult], *, uncased: bool
) -> list[RecognizerResult]:
    """Return the names joined to a found name by "and" ("okafor and brixa", "Vance & Okafor").

    The other word must be a census name that is no English word, a word in no list, or a first
    name written as one. So "Hartwell and Lasix" keeps the drug.
    """
    found = []
    for result in results:
        if result.entity_type != "PERSON":
            continue
        after = NAME_AFTER_AND.match(text, result.end)
        before = NAME_BEFORE_AND.search(text, max(0, result.start - LOOKBEHIND_CHARS), result.start)
        for match in (after, before):
            if match is None or not _is_coordinated_name(match.group(1), uncased=uncased):
                continue
            found.append(
                make_result(
                    COORDINATED_NAME,
                    COORDINATED_NAME,
                    entity_type="PERSON",
                    start=match.start(1),
                    end=match.end(1),
                    score=COORDINATED_NAME_SCORE,
                    reason="joined to a name by 'and'",
                )
            )
    return found


def _is_coordinated_name(word: str, *, uncased: bool) -> bool:
    lower = word.lower()
    if len(lower) < 3 or lower in KINSHIP_WORDS or lower in STOP_WORDS:
        return False
    if not uncased and word.isupper():
        return False  # an abbreviation in cased text ("Dr. Okafor and NSGY")
    if lower in clinical_words() or lower in drug_names() or is_clinical_prefix(lower):
        return False
    if is_known_name(word) or is_unknown_word(word):
        return True
    if not is_first_name(word):
        return False
    return not is_english(lower) if uncased else _is_title_case(word)


def _as_place(entity: SpacySpan) -> SpacySpan:
    """Retype a PERSON entity that is a lexicon place of two or more words ("Cape Cod")."""
    words = [word.lower() for word in WORD.findall(entity.text)]
    if len(words) > 1 and " ".join(words) in place_names():
        return SpacySpan(entity.doc, entity.start, entity.end, label="LOCATION")
    return entity


def _lower_case_lemmas(analyzer: AnalyzerEngine, nlp_artifacts: NlpArtifacts) -> None:
    """Give Presidio lower-case words as lemmas where spaCy's lemmatizer did not run.

    Presidio's context words ("dr", "phone", "called") are matched against the lemmas around a
    hit, so they must not be empty strings.
    """
    if nlp_artifacts.tokens is None or any(nlp_artifacts.lemmas):
        return
    nlp_artifacts.lemmas = [token.lower_ for token in nlp_artifacts.tokens]
    nlp_artifacts.keywords = nlp_artifacts.set_keywords(
        analyzer.nlp_engine, nlp_artifacts.lemmas, "en"
    )


def _filter_entities(
    nlp_artifacts: NlpArtifacts, keep: Callable[[SpacySpan], SpacySpan | None]
) -> None:
    """Replace each PERSON or LOCATION entity by `keep(entity)`, dropping it on None."""
    entities, scores = [], []
    for entity, score in zip(nlp_artifacts.entities, nlp_artifacts.scores, strict=True):
        kept = keep(entity) if entity.label_ in NAME_LABELS else entity
        if kept is not None and kept.label_ == "PERSON":
            kept = _as_place(kept)
        if kept is not None:
            entities.append(kept)
            scores.append(score)
    nlp_artifacts.entities, nlp_artifacts.scores = entities, scores


def _trim_to_capitals(truecased: str, entity: SpacySpan) -> SpacySpan | None:
    """Cut an entity of uncased text to its name words, or drop it if it has none.

    The truecased copy capitalizes lexicon names and places and the words the note itself
    capitalized, so only those can be name words (see `_is_name_word`). One-letter words and
    punctuation at either end stay, because they belong to initials ("s. Roberto").
    """
    tokens = list(entity)
    evidence = {token.i for token in tokens if _is_name_word(truecased, token.idx, len(token))}
    if not evidence:
        return None
    while _is_trimmed(tokens[-1], evidence):
        tokens.pop()
    while _is_trimmed(tokens[0], evidence):
        tokens.pop(0)
    return SpacySpan(entity.doc, tokens[0].i, tokens[-1].i + 1, label=entity.label)


def _trim_words(entity: SpacySpan) -> SpacySpan | None:
    """Cut relationship words, roles and clinical abbreviations off a cased entity's ends.

    spaCy takes "Husband Tobias Hartwell" or "NP L. Okafor" as one name; the husband and the
    nurse practitioner are not part of it.
    """
    tokens = list(entity)
    while tokens and _is_no_name_word(tokens[0].text):
        tokens.pop(0)
    while tokens and _is_no_name_word(tokens[-1].text):
        tokens.pop()
    if not tokens:
        return None
    return SpacySpan(entity.doc, tokens[0].i, tokens[-1].i + 1, label=entity.label)


def _is_no_name_word(word: str) -> bool:
    lower = word.lower()
    return lower in KINSHIP_WORDS or lower in clinical_words()


def _is_trimmed(token: SpacyToken, evidence: set[int]) -> bool:
    return token.i not in evidence and token.is_alpha and len(token) > 1


def _extend_name(text: str, result: RecognizerResult, *, uncased: bool) -> RecognizerResult:
    """Widen a PERSON span over one adjacent census name on each side ("DR. JOHN SMITH").

    A cue recognizer matches one word after "DR." or before "AWARE". The first or last name on
    the other side counts only because it is next to that word.
    """
    if result.entity_type != "PERSON":
        return result
    start, end = extend_name(text, result.start, result.end, uncased=uncased)
    if (start, end) == (result.start, result.end):
        return result
    return with_bounds(result, start, end)


def extend_name(text: str, start: int, end: int, *, uncased: bool) -> tuple[int, int]:
    """Return the bounds of a name span widened over one adjacent name word on each side."""
    after = NEXT_WORD.match(text, end)
    if (
        after
        and after.group(1).lower() not in VERBS_AFTER_NAMES
        and (_is_name_part(after.group(1), uncased=uncased) or is_unknown_word(after.group(1)))
    ):
        end = after.end()
    # A word before the span must be an initial ("J. Vance"), a census name that is no English
    # word, a word in no list, or a first name written as one ("per Maria Lindqvist").
    initial = INITIAL_BEFORE.search(text, max(0, start - LOOKBEHIND_CHARS), start)
    before = PREVIOUS_WORD.search(text, max(0, start - LOOKBEHIND_CHARS), start)
    if initial:
        start = initial.start(1)
    elif before and _is_name_before(before.group(1), uncased=uncased):
        start = before.start(1)
    elif before and uncased and _is_surname(text, start, end):
        # Before a surname that no word list holds, a first name counts even when it is also a
        # word ("per ruth hartwell", "ruth brixwold").
        lower = before.group(1).lower()
        if is_first_name(lower) and lower not in KINSHIP_WORDS:
            start = before.start(1)
    return start, end


def _is_surname(text: str, start: int, end: int) -> bool:
    """Return whether a span's first word is a census name that is no English word, or a word in
    no list."""
    first = WORD.match(text, start, end)
    return first is not None and (is_known_name(first.group(0)) or is_unknown_word(first.group(0)))


def _is_name_before(word: str, *, uncased: bool) -> bool:
    if word.lower() in KINSHIP_WORDS:
        return False
    if is_known_name(word) and _is_name_part(word, uncased=uncased):
        return True
    if is_unknown_word(word) and len(word) > 2 and (uncased or _is_title_case(word)):
        return True  # a given name that no list contains ("call OTTILIE HARTWELL")
    lower = word.lower()
    if lower not in first_names() or lower in clinical_words() or lower in STOP_WORDS:
        return False
    if uncased:
        return not is_english(lower)  # "son Nick" in a lower-case note
    return word[0].isupper() and word[1:].islower()


def _is_name_part(word: str, *, uncased: bool) -> bool:
    lower = word.lower()
    if lower not in person_names() or lower in clinical_words() or lower in STOP_WORDS:
        return False
    return uncased or (word[0].isupper() and not word.isupper())


def _has_name_word(text: str, entity: SpacySpan) -> bool:
    """Return whether a spaCy entity of cased text is a lexicon place or has a name word."""
    words = WORD.findall(text, entity.start_char, entity.end_char)
    phrase = " ".join(words).lower()
    if phrase in place_names() and (len(words) > 1 or not is_english(phrase)):
        return True
    if (
        phrase in place_names()
        and _is_title_case(words[0])
        and phrase not in clinical_words()
        and _is_mid_sentence(text, entity.start_char)
    ):
        return True  # "Boston" written as a name; not "brady" or the drug "Nitro"
    if _is_proper_phrase(text, entity):
        return True
    return any(
        _is_name_word(text, match.start(), len(match.group(0)))
        for match in WORD.finditer(text, entity.start_char, entity.end_char)
    )


def _is_proper_phrase(text: str, entity: SpacySpan) -> bool:
    """Return whether an entity is two or more title-case words inside a sentence, or at its
    start when the first is a common first name.

    "back from the North Shore", "taken to Holy Family ED": each word is English, but capitals on
    every word of a phrase in mid-sentence mark a proper name. Clinical words and words in
    capitals ("CT Scan") do not count.
    """
    matches = list(WORD.finditer(text, entity.start_char, entity.end_char))
    if len(matches) < 2:
        return False
    for match in matches:
        word = match.group(0)
        if len(word) < 2 or not word[0].isupper() or not word[1:].islower():
            return False
        if word.lower() in clinical_words() or word.lower() in drug_names():
            return False
    # At a sentence start a heading can look the same ("Fecal Bag applied"), unless the phrase
    # opens with a common first name ("James Talbot listed ...").
    return _is_mid_sentence(text, matches[0].start()) or is_first_name(matches[0].group(0))


def _is_name_word(text: str, start: int, length: int) -> bool:
    """Return whether the word at `start` is capitalized and can be a name or place.

    A census name or lexicon place that is no English word counts anywhere. A common first name
    that is also a word, written in title case, counts inside a sentence. Another capitalized word
    counts only if it is in no word list (nor a misspelling or a cut-off drug name) and is no
    one-letter word or abbreviation in capitals. It must also not start a line or sentence, where
    headings ("Neuro:") are.
    """
    word = text[start : start + length]
    lower = word.lower()
    before = text[max(0, start - LOOKBEHIND_CHARS) : start]
    if len(word) == 1 and word.isupper() and TITLE_BEFORE.search(before):
        return True  # an initial used as the name ("Doctor X")
    if len(word) < 2 or not word[0].isupper() or word.isupper() or not word.isalpha():
        return False
    if lower in clinical_words() or (lower in drug_names() and lower not in person_names()):
        return False
    if (lower in person_names() or lower in place_names()) and not is_english(lower):
        return not is_misspelling(lower)
    mid_sentence = _is_mid_sentence(text, start)
    if is_first_name(lower) and word[1:].islower():
        return mid_sentence  # "Grace", "Mark" written as names inside a sentence
    if is_english(lower) or is_misspelling(lower) or is_clinical_prefix(lower):
        return False  # "Labs", "Replete", "Propofal", "Metop": capitals from habit
    return mid_sentence


def _is_mid_sentence(text: str, start: int) -> bool:
    """Return whether the word at `start` neither starts the text, a line nor a sentence."""
    before = text[max(0, start - LOOKBEHIND_CHARS) : start]
    at_text_start = start < LOOKBEHIND_CHARS and not before.strip(" \t-*")
    return not at_text_start and SENTENCE_START.search(before) is None


def _is_title_case(word: str) -> bool:
    return len(word) > 1 and word[0].isupper() and word[1:].islower()
