"""Letter case of clinical text: spotting uncased notes and restoring a usable case.

spaCy's English models learned names and places from their capital letters. On a note written
all in capitals or all in lower case they tag many clinical words as PERSON or LOCATION and miss
real names, so
`truecase` writes the note in lower case with only lexicon names and places capitalized, and
spaCy's NER runs on that copy. Both strings have the same length, so offsets carry over.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise

from deidentify.lexicons import WORD, is_english, is_known_name, place_names

# A text is uncased when at least this share of its cased letters are capitals, so a lower-case
# unit such as "mg" does not change the verdict. It is also uncased when at most this share of its
# sentences start with a capital.
UPPER_CASE_SHARE = 0.8
CAPITALIZED_SENTENCE_SHARE = 0.5
# Fewer cased letters than this do not show a writing style ("BP OK").
MIN_CASED_LETTERS = 20
# The first letter of a line or of the text after a sentence end.
SENTENCE_START = re.compile(r"(?:^|[.!?]\s+)[^A-Za-z\n]*([A-Za-z])", re.MULTILINE)
# Maximum length of a place name looked up, in words ("SOUTH SAN FRANCISCO").
MAX_PLACE_WORDS = 3


# Every recognizer checks the same text, so the last few results are cached.
@lru_cache(maxsize=8)
def is_uncased(text: str) -> bool:
    """Return whether `text` is (almost) all capitals, or lower case at sentence starts."""
    upper = sum(1 for char in text if char.isupper())
    lower = sum(1 for char in text if char.islower())
    if upper + lower < MIN_CASED_LETTERS:
        return False
    if upper >= UPPER_CASE_SHARE * (upper + lower):
        return True
    starts = [match.group(1) for match in SENTENCE_START.finditer(text)]
    capitalized = sum(1 for letter in starts if letter.isupper())
    return capitalized <= CAPITALIZED_SENTENCE_SHARE * len(starts)


def same_length_lower(text: str) -> str:
    """Lower-case `text`, keeping the few characters whose lower case is longer ("İ")."""
    return "".join(char.lower() if len(char.lower()) == 1 else char for char in text)


def same_length_upper(text: str) -> str:
    """Upper-case `text`, keeping the few characters whose upper case is longer ("ß")."""
    return "".join(char.upper() if len(char.upper()) == 1 else char for char in text)


def truecase(text: str) -> str:
    """Lower-case `text`, capitalizing census names and lexicon places that are not words.

    Title-case words keep their capital: in a lower-case note that capital is deliberate.

    Names that are also English words ("BROWN") stay in lower case: spaCy would tag them on
    their own, and the context recognizers handle them instead.
    """
    chars = list(same_length_lower(text))
    words = list(WORD.finditer(text))
    places = place_names()
    for index, match in enumerate(words):
        for size in range(MAX_PLACE_WORDS, 0, -1):
            group = words[index : index + size]
            if len(group) < size or not is_single_spaced(text, group):
                continue
            phrase = " ".join(word.group(0).lower() for word in group)
            if phrase in places and (size > 1 or not is_english(phrase)):
                for word in group:
                    chars[word.start()] = word.group(0)[0].upper()
                break
        if is_known_name(match.group(0)) or _is_title_case(match.group(0)):
            chars[match.start()] = match.group(0)[0].upper()
    return "".join(chars)


def to_upper_case(text: str) -> str:
    """Upper-case the words of uncased text, keeping title-case words ("son Nick") as written.

    A capital in a lower-case note is deliberate, so it stays as evidence for the recognizers.
    """
    return WORD.sub(
        lambda match: (
            match.group(0) if _is_title_case(match.group(0)) else same_length_upper(match.group(0))
        ),
        text,
    )


def _is_title_case(word: str) -> bool:
    return len(word) > 1 and word[0].isupper() and word[1:].islower()


def is_single_spaced(text: str, words: list[re.Match[str]]) -> bool:
    """Return whether exactly one space separates each pair of neighbouring `words`."""
    return all(text[left.end() : right.start()] == " " for left, right in pairwise(words))
