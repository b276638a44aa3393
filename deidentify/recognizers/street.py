"""Street addresses, address units and post boxes, and towns before a US state code and a ZIP
code ("Elmford, WI 53809").

US layout: a house number, up to three name words and a street type ("27 Alder St.", "4410 OLD
MILL RD", "12 Elm Street", "9 Brixworth Crossing"). European layouts: a street word with its
type as a suffix before the house number ("Elmfordstrasse 12", "Brixvej 4"), or a street type
before the name and number ("Via Elmford 71", "ul. Brixa 53"). Units and boxes: "Apt. 4B",
"Suite 300", "P.O. Box 255", "PSC 6477, Box 2981". A clinical word, a unit of measure or a stop
word among the name words makes a match an order or a count instead ("10 UNITS REG INSULIN ST").
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern
from spacy.lang.en.stop_words import STOP_WORDS as SPACY_STOP_WORDS

from deidentify.addresses import (
    ABBREVIATED_PREFIXES,
    SPELLED_OUT_STREET_TYPES,
    STREET_PREFIXES,
    STREET_SUFFIXES,
    STREET_TYPES,
    alternation,
)
from deidentify.lexicons import WORD, clinical_words, is_english, is_first_name, is_misspelling
from deidentify.recognizers.results import CasedPatternRecognizer

STREET_TYPE = f"(?i:{alternation(STREET_TYPES)})"
# A capital letter of any script, then letters of any script ("Höfðagata", "Poznań").
NAME_WORD = r"\p{Lu}[\p{L}'\-]+"
# Street types as the end of the street's name, and before it ("Via", "ul.").
STREET_SUFFIX = f"(?i:{alternation(STREET_SUFFIXES)})"
STREET_PREFIX_FORMS = tuple(
    rf"{prefix}\." if prefix in ABBREVIATED_PREFIXES else prefix.capitalize()
    for prefix in STREET_PREFIXES
)
STREET_PREFIX = f"(?:{alternation(STREET_PREFIX_FORMS)})"
# Above spaCy's 0.85, so that a house number and a street type win over spaCy's person type.
SCORE = 0.9
STATE_CODES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|"
    "NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR"
)
# Street types that are also common words: a street of that type needs a name word that is
# no English word ("9 Brixworth Walk", not "6 Minute Walk" or "2 Long Path").
WORD_STREET_TYPES = frozenset(
    {"way", "place", "circle", "square", "trail", "ridge", "crossing", "loop", "path", "row",
     "close", "walk", "landing", "commons", "flats", "estates", "route", "cove", "grove"}
)  # fmt: skip
# A house number: "27", "221B", "12-14", "12 1/2".
HOUSE_NUMBER = r"\d{1,5}(?:[A-Za-z]\b|-\d{1,5}|\s1/2)?"
# Street suffixes that are words when written alone, with no name before them ("Tie 2").
NOT_EUROPEAN_STREET = frozenset({"tie", "weg", "allee"})
# Suffixes that end English words too ("bowtie", "hattie"): the word before them must not be one.
SHORT_SUFFIXES = ("tie", "weg", "vej", "gade", "laan")
# Words after a number that make it a count, not a house number.
NOT_STREET_NAMES = frozenset(
    {"unit", "units", "tab", "tabs", "dose", "doses", "times", "hours", "hrs", "minutes",
     "mins", "days", "weeks", "puffs", "drops", "amps", "bags", "liters", "litres", "minute",
     "meter", "meters", "metre", "metres", "step", "steps", "beat", "beats", "lap", "laps",
     "hour", "day", "week", "month", "months", "year", "years", "feet", "foot", "head", "chest",
     "abdominal", "abd", "pelvic", "mm", "cm", "students"}
    | {word.lower() for word in SPACY_STOP_WORDS}
)  # fmt: skip


# Words and numbers of any script ("Höfðagata", "39").
ADDRESS_TOKEN = re.compile(r"[^\W_]+(?:['\-.][^\W_]+)*\.?")
ADDRESS_UNIT = re.compile(r"(?i:apt|apartment|suite|ste|p\.?\s?o\.?|post office|psc|cmr|unit)\b")


class StreetAddressRecognizer(CasedPatternRecognizer):
    """Detect a street address (entity `LOCATION`)."""

    ENTITY = "LOCATION"
    PATTERNS = [
        Pattern(
            "street_address",
            rf"\b{HOUSE_NUMBER}\s(?:[NSEW]\.?\s)?(?:{NAME_WORD}\s){{1,3}}{STREET_TYPE}\b\.?",
            SCORE,
        ),
        Pattern(
            "street_suffix_then_number",
            rf"\b\p{{Lu}}[\p{{L}}\-]*{STREET_SUFFIX}\s{HOUSE_NUMBER}\b",
            SCORE,
        ),
        Pattern(
            "street_prefix_name_number",
            rf"(?={STREET_PREFIX}\s)(?<!\bet\s){STREET_PREFIX}\s(?:{NAME_WORD}\.?\s){{1,3}}{HOUSE_NUMBER}\b"
            r"(?!\s?(?i:l|lpm|l/min|mg|mcg|ml|cc|units?|times|x|hrs?|hours?|days?|lumens?|fr)\b)",
            SCORE,
        ),
        # An apartment or suite number in an address: at the start of a line, after a comma or
        # a street type ("27 Alder St. Apt 4B"), or with "#". Not "f/u apt 3 wks" (appointment),
        # "OR suite 3" or "ste 2 mm" (ST elevation).
        Pattern(
            "address_unit",
            rf"(?:(?=(?i:apt|apartment|suite)\b)(?<=(?:^|[,;\n]|\b{STREET_TYPE}\.?)[ \t]*)"
            r"(?i:apt|apartment|suite)\.?\s?#?\s?"
            r"|\b(?i:apt|apartment|suite)\.?\s?#\s?|\bSte\.\s?#?\s?)"
            r"\d{1,5}[A-Za-z]?\b"
            r"(?![.,/\-]\d|\s?(?i:mm|cm|wks?|weeks?|days?|flights?|steps?|am|pm|at|noon)\b)",
            SCORE,
        ),
        Pattern(
            "post_box",
            r"\b(?:(?i:p\.?\s?o\.?|post office)\s?(?i:box)|(?:PSC|CMR|Unit)\s\d{1,5},?\sBox)"
            r"\s#?\d{1,6}\b",
            SCORE,
        ),
        # A town before a US state's postal code and a ZIP code ("Elmford, WI 53809").
        Pattern(
            "town_before_state",
            rf"\b[A-Z][A-Za-z'\-]+(?:\s[A-Z][A-Za-z'\-]+)?(?=,\s(?:{STATE_CODES})\s\d{{5}}\b)",
            SCORE,
        ),
    ]

    def invalidate_result(self, pattern_text: str) -> bool | None:
        # An order or a measurement has a clinical word or a unit where a street has its name.
        words = WORD.findall(pattern_text)
        if ADDRESS_UNIT.match(pattern_text):
            return None  # an apartment, a suite or a post box
        if not re.match(r"\d", pattern_text):
            return self._is_not_european_street(pattern_text)
        lowered = [word.lower() for word in words[:-1]]
        if any(word in clinical_words() or word in NOT_STREET_NAMES for word in lowered):
            return True
        street_type = words[-1].lower() if words else ""
        if street_type in WORD_STREET_TYPES and all(is_english(word) for word in lowered):
            return True  # "6 Minute Walk", "2 Long Path"
        if not pattern_text.isupper():
            return None
        # In capitals "ST" and "CT" are also sinus tachycardia and a chest tube, so an
        # abbreviated street type needs its period there ("2 ALDER ST."), and a misspelled
        # word ("3 EPSIODES ST") is no street name.
        abbreviated = words[-1].lower() not in SPELLED_OUT_STREET_TYPES
        if abbreviated and not pattern_text.endswith("."):
            return True
        return any(is_misspelling(word) for word in lowered)

    @staticmethod
    def _is_not_european_street(pattern_text: str) -> bool | None:
        """Return whether a European street layout is a clinical phrase instead.

        Its name words must not be clinical or stop words ("Via NGT 20"), and after a prefix type
        not all English words ("Via Nasal Cannula 2"). A word with a street suffix must be no
        English word ("Necktie 2"), and before a short suffix no English word or first name may
        stand ("Bowtie 2", "Hattie 2"). A town before a state is left as is.
        """
        tokens = ADDRESS_TOKEN.findall(pattern_text)
        if len(tokens) < 2 or not tokens[-1][0].isdigit():
            return None  # a town before a state and ZIP code
        names = [token.lower() for token in tokens[:-1] if not token[0].isdigit()]
        if names[0].rstrip(".") in STREET_PREFIXES:
            # "Via Nasal Cannula 2": the name words after a street type are no English words.
            names = names[1:]
            if names and all(is_english(name) for name in names):
                return True
        elif names[-1] in NOT_EUROPEAN_STREET or is_english(names[-1]):
            return True
        else:
            suffix = next((end for end in SHORT_SUFFIXES if names[-1].endswith(end)), "")
            stem = names[-1].removesuffix(suffix)
            if suffix and (len(stem) < 3 or is_english(stem) or is_first_name(stem)):
                return True  # "Bowtie 2", "Hattie 2"
        return any(name in clinical_words() or name in NOT_STREET_NAMES for name in names)
