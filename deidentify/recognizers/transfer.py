"""Places that a patient is moved to or from: "TRANSFERRED TO BRIXWORTH", "admitted to MICU from
Elm".

Nursing notes name hospitals, units and towns after these phrases, often by a local name that no
lexicon holds. The span is the next one or two words, each a census name, a lexicon place or a
word that is in no list. English and clinical words ("transferred to the floor", "from OR")
are no place.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS as SPACY_STOP_WORDS

from deidentify.casing import is_uncased
from deidentify.lexicons import (
    WORD,
    clinical_words,
    is_english,
    is_known_name,
    is_unknown_word,
    person_names,
    place_names,
)
from deidentify.recognizers.results import CasedPatternRecognizer, keep_leading_words

STOP_WORDS = frozenset(word.lower() for word in SPACY_STOP_WORDS)
# "trans?fer" also covers the common misspellings "transfered" and "tranfered".
MOVED = (
    r"(?i:trans?fer(?:r?ed|ring|s)?|admitted|admit|discharged|discharge|sent|returned|"
    r"return|going|came|arrived|arrival|brought|moved|transported|flown|taken|went|"
    r"presented|presents|presenting|"
    r"d/c'?d|dc'?d|d/c)"
)
WORD_SHAPE = r"[A-Za-z][A-Za-z'\-]*"
# Words of a place name checked after a move, unless a hospital word ends a longer name.
MAX_PLACE_WORDS = 2
# Words that end a hospital's name, whatever words come before them ("Elmford Cross Hospital").
HOSPITAL_WORDS = frozenset({"hospital", "hosp", "memorial", "infirmary", "clinic", "campus"})
# Words for a kind of hospital rather than one hospital ("taken to outside hospital").
GENERIC_HOSPITAL_WORDS = frozenset(
    {"outside", "other", "another", "local", "community", "area", "nearby", "nearest", "referring",
     "receiving", "previous", "prior", "same", "private", "osh", "rehab", "home", "state",
     "county", "city", "general", "main", "university", "teaching", "veterans", "va",
     "children's", "childrens", "psychiatric", "psych", "acute", "care", "urgent", "larger",
     "smaller", "bigger", "tertiary", "regional", "rural", "affiliated", "sister"}
)  # fmt: skip
# Words after a ward's floor number that show a planned move ("to Brixworth 2 when bed avail").
WHEN_BED = r"(?i:when|once|if|after)\s(?i:a\s)?(?i:bed|beds)\b"
BED_AFTER = re.compile(rf"\s\d{{1,2}}\s{WHEN_BED}")
# Words that are a ward's kind or service, not its name ("to floor 2 when bed available").
WARD_KIND_WORDS = frozenset(
    {"floor", "unit", "room", "bed", "level", "ward", "pod", "bay", "step", "number", "medicine",
     "surgery", "surgical", "oncology", "telemetry", "tele", "hospice", "cardiac", "cardiology",
     "neurology", "neuro", "ortho", "orthopedics", "psych", "rehab", "stepdown", "observation",
     "obs", "peds", "pediatrics", "maternity", "transplant", "renal", "medical", "icu"}
)  # fmt: skip


# Letters of a hospital's initials before "Hospital" ("MD Hospital").
MAX_INITIALS = 4
# Just above spaCy's 0.85, so that where spaCy types the ward as a person, the move wins.
SCORE = 0.86


class TransferLocationRecognizer(CasedPatternRecognizer):
    """Detect the place after "transferred to", "admitted from" and similar (entity `LOCATION`)."""

    ENTITY = "LOCATION"
    PATTERNS = [
        Pattern(
            "place_after_move",
            rf"(?<=\b{MOVED}\s+(?:[\w/]+\s+){{0,2}}?(?i:back\s+)?(?i:to|from)\s+(?i:the\s+)?)"
            rf"{WORD_SHAPE}(?:\s(?!(?i:to|from)\b){WORD_SHAPE}){{0,2}}",
            SCORE,
        ),
        # A ward or building with its floor ("to Brixworth 3", "from ELMFORD 5"), not a dose
        # ("on NIMBEX 0.2") or a setting ("on IABP 1:1").
        Pattern(
            "ward_with_floor",
            rf"(?<=\b(?i:to|from|on)\s){WORD_SHAPE}(?=\s\d(?!\.\d|[\w:/]))",
            SCORE,
        ),
        # A ward and floor before a planned move, with or without "to" ("PLAN: Brixworth 2 when
        # bed available"); the ward's name may be an English word ("Quarterdeck 2").
        Pattern(
            "ward_before_bed",
            rf"\b{WORD_SHAPE}(?=\s\d{{1,2}}\s{WHEN_BED})",
            SCORE,
        ),
        # A floor number before the ward ("transferred to 7 Elmford").
        Pattern(
            "ward_after_floor",
            rf"(?<=\b{MOVED}\s+(?i:to|from)\s\d{{1,2}}\s){WORD_SHAPE}",
            SCORE,
        ),
        # A hospital's initials after a locative ("stable at BXH", "needs to leave BXH"): two
        # to five capitals that are no clinical abbreviation or word.
        Pattern(
            "initials_after_locative",
            r"(?<=\b(?i:at|in|to|from|leave|leaving)\s(?i:the\s)?)[A-Z]{2,5}\b(?![\-/])",
            0.5,
        ),
    ]

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        uncased = is_uncased(text)
        kept = []
        for result in super().analyze(text, entities, nlp_artifacts, regex_flags):
            words = WORD.findall(text, result.start, result.end)
            # Whichever pattern matched it, a single word before a floor and a planned move is
            # a ward ("to Quarterdeck 2 when bed available").
            if len(words) == 1 and BED_AFTER.match(text, result.end):
                if self._is_ward_name(words[0]):
                    kept.append(result)
                continue
            first = self._hospital_name_words(words, uncased=uncased)
            trimmed = keep_leading_words(
                text,
                result,
                lambda word: self._is_place_word(word, uncased),
                first=first,
                max_words=MAX_PLACE_WORDS,
            )
            if trimmed is not None:
                kept.append(trimmed)
        return kept

    @staticmethod
    def _hospital_name_words(words: list[str], *, uncased: bool) -> int:
        """Return how many leading words name a hospital, up to its facility word, or 0.

        The words before the facility word are its name ("taken to Elmford Cross Hospital",
        "FLOWN TO MEMORIAL HOSPITAL") when each is a census name, a place, a word in no list or,
        in cased text, a capitalized word. Words for a kind of hospital ("outside", "state") do
        not count, and a stop word or clinical word ("our", "psych") rules the name out.
        """
        lowered = [word.lower() for word in words]
        facility = [i for i, word in enumerate(lowered) if word in HOSPITAL_WORDS]
        if not facility:
            return 0
        end = facility[0]
        # "Memorial" names a hospital when another facility word follows it.
        while (
            end + 1 < len(lowered)
            and lowered[end] == "memorial"
            and lowered[end + 1] in (HOSPITAL_WORDS)
        ):
            end += 1
        name = [word for word in words[:end] if word.lower() not in GENERIC_HOSPITAL_WORDS]
        if not name:
            return 0
        for word in name:
            lower = word.lower()
            # In cased text short capitals are initials ("MD Hospital", "BXH Campus").
            initials = not uncased and word.isupper() and len(word) <= MAX_INITIALS
            if not initials and (lower in STOP_WORDS or lower in clinical_words()):
                return 0
            capitalized = not uncased and word[0].isupper()
            if not (
                lower == "memorial"
                or lower in person_names()
                or lower in place_names()
                or is_unknown_word(word)
                or capitalized
            ):
                return 0
        return end + 1

    @staticmethod
    def _is_ward_name(word: str) -> bool:
        lower = word.lower()
        return not (
            lower in STOP_WORDS
            or lower in clinical_words()
            or lower in WARD_KIND_WORDS
            or len(lower) < 3
        )

    @staticmethod
    def _is_place_word(word: str, uncased: bool) -> bool:
        if not uncased and not word[0].isupper():
            return False
        if word.lower() in place_names() and not is_english(word):
            return True
        if is_known_name(word) or is_unknown_word(word):
            return True
        # In cased text a capitalized census name is a place's name ("sent to Mercy Grant").
        return not uncased and word[1:].islower() and word.lower() in person_names()
