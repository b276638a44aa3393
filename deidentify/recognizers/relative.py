"""Names of relatives, proxies and caregivers, which notes give right after the relationship.

"SPOKE WITH DAUGHTER PHILOMENA", "pt's son Nick arrived", "proxy is granddaughter: Irene
Czyzewicz", "caregiver, Barbara". The name must start with a capital letter, because in
lower-case text the word after "son" is far more often a verb than a name.
"""

from presidio_analyzer import Pattern
from spacy.lang.en.stop_words import STOP_WORDS as SPACY_STOP_WORDS

from deidentify.lexicons import (
    KINSHIP_WORDS,
    WORD,
    is_first_name,
    is_known_name,
    is_name_or_unknown,
    is_unknown_word,
    person_names,
)
from deidentify.recognizers.results import CasedPatternRecognizer

STOP_WORDS = frozenset(word.lower() for word in SPACY_STOP_WORDS)

RELATIONSHIPS = (
    r"(?i:daughter|dtr|son|wife|husband|hus|mother|mom|father|dad|brother|bro|sister|sis|"
    r"niece|nephew|aunt|uncle|cousin|grand(?:d)?aughter|grandson|grandmother|grandfather|"
    r"girlfriend|boyfriend|partner|fianc[eé]e?|friend|neighbou?r|caregiver|proxy|hcp|guardian)"
)
# As in name.py, a second token must be in title case, so "PHILOMENA ON" yields "PHILOMENA".
NAME = r"[A-Z][A-Za-z'\-]+(?:\s[A-Z][a-z][A-Za-z'\-]*)?"


class RelativeNameRecognizer(CasedPatternRecognizer):
    """Detect a name that follows a relationship word (entity `PERSON`)."""

    ENTITY = "PERSON"
    PATTERNS = [
        # "-" counts only with a space before it: "son-in-law" is a relationship, not a name.
        Pattern(
            "name_after_relationship",
            rf"(?<=\b{RELATIONSHIPS}(?:\s?[:,(]\s?|\s-\s?|\s)){NAME}",
            0.6,
        ),
        # The relationship in parentheses after the name: "Tomasz Okafor (son)".
        Pattern(
            "name_before_relationship",
            rf"\b{NAME}(?=\s?\({RELATIONSHIPS}(?:\s(?i:in\s?law))?\))",
            0.6,
        ),
    ]

    def invalidate_result(self, pattern_text: str) -> bool | None:
        # Without letter case the word after the cue is as often a verb or a clinical word
        # ("WIFE CALLED", "son left", "husband recieved"), so each word but an initial must be a
        # census name, a first name or a word in no list, and no English word or typo of one.
        words = [word for word in WORD.findall(pattern_text) if len(word) > 1]
        if pattern_text.isupper() or pattern_text.islower():
            return not all(
                is_known_name(word) or is_unknown_word(word) or is_first_name(word)
                for word in words
            )
        return not all(is_name_or_unknown(word) or _is_written_name(word) for word in words)


def _is_written_name(word: str) -> bool:
    """Return whether a census name that is also an abbreviation is written as a name ("Brother,
    Ed, called"): in title case, so "son, ED" is no name."""
    lower = word.lower()
    return (
        word[0].isupper()
        and word[1:].islower()
        and lower in person_names()
        and lower not in KINSHIP_WORDS
        and lower not in STOP_WORDS
    )
