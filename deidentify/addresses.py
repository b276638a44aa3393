"""Words of street addresses, shared by the address recognizer and the address surrogates."""

from __future__ import annotations

# Street types written out in full ("Street", "Crossing").
SPELLED_OUT_STREET_TYPES = frozenset(
    {"street", "avenue", "road", "boulevard", "lane", "drive", "court", "courts", "way", "place",
     "terrace", "parkway", "highway", "circle", "square", "trail", "ridge", "crossing", "loop",
     "path", "pike", "row", "alley", "heights", "plaza", "crescent", "close", "mews", "walk",
     "grove", "gardens", "landing", "commons", "cove", "flats", "estates", "turnpike", "route",
     "freeway", "expressway"}
)  # fmt: skip
# Abbreviated street types ("St", "Blvd").
ABBREVIATED_STREET_TYPES = frozenset(
    {"st", "ave", "rd", "blvd", "ln", "dr", "ct", "pl", "ter", "pkwy", "hwy", "cir", "sq", "trl",
     "xing", "aly", "hts", "plz", "tpke", "rte", "fwy", "expy"}
)  # fmt: skip
STREET_TYPES = SPELLED_OUT_STREET_TYPES | ABBREVIATED_STREET_TYPES
# Street types written before the street's name ("Via Elmford 71", "ul. Brixa 53").
STREET_PREFIXES = frozenset(
    {"via", "viale", "vicolo", "piazza", "piazzetta", "corso", "calle", "carrer", "avenida",
     "rua", "travessa", "largo", "rue", "chemin", "ulica", "ul", "aleja", "al"}
)  # fmt: skip
# Prefixes written in lower case with a period ("ul.", "al.") instead of capitalized.
ABBREVIATED_PREFIXES = frozenset({"ul", "al"})
# Street types written as the end of the street's name, in European languages.
STREET_SUFFIXES = (
    "strasse", "straße", "gasse", "weg", "vej", "vænget", "gata", "gatan", "gade", "stræde",
    "veien", "vegen", "vägen", "tie", "kuja", "katu", "laan", "straat", "plein", "gracht",
    "allee", "platz", "torget", "polku",
)  # fmt: skip
DIRECTIONS = frozenset(
    {"north", "south", "east", "west", "n", "s", "e", "w", "ne", "nw", "se", "sw"}
)
# Labels of apartments, suites and boxes ("Apt", "P.O. Box", "PSC").
UNIT_WORDS = frozenset(
    {"apt", "apartment", "suite", "ste", "unit", "box", "p", "o", "po", "post", "office", "psc",
     "cmr"}
)  # fmt: skip


def alternation(words: frozenset[str] | tuple[str, ...]) -> str:
    """Return a regex alternation of `words`, longest first, so that "street" wins over "st"."""
    return "|".join(sorted(words, key=lambda word: (-len(word), word)))
