"""Labelled identifier numbers and codes that Safe Harbor lists besides record numbers and SSNs.

Health plan beneficiary numbers ("Member ID: XKH4471920", "Medicaid # 0012345678"), account
numbers ("acct # 88120374"), certificate and license numbers ("DL# S530-4417-2291", "license no.
RN228841"), vehicle identifiers ("VIN 1HGCM82633A004352", "license plate 7XKR221"), device
identifiers and serial numbers ("pacemaker serial # PJN448812", "S/N 88-23117") and other
labelled codes ("case # 24-1187", "policy #RG17"). The span is the code, not its label, so a
reader still sees what kind of number was there.

A code follows its label and holds at least one digit, so "serial exams", "account for" and
"policy is" stay. A 17-character vehicle identification number also counts without a label when
its check digit (position 9) is right, which a random string of that shape is 1 time in 11.
"""

from __future__ import annotations

import re

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from deidentify.lexicons import clinical_words, drug_names
from deidentify.recognizers.results import make_result

# Separator between a label and its code: "#", ":", "no.", "number", "id", "is" and spaces.
JOIN = r"\s*(?:(?:number|num|no\.?|id|#)\s*)?[:#]?\s*(?:(?:is|was)\s+)?"
# Words that turn a kind of identifier into its label ("account number", "serial #"), or a
# colon or "#" right after it ("Policy: XKH4471920").
NUMBER_WORD = r"(?:\s*(?:number|num\b|no\.?|id\b|#)|(?=\s*[:#]))"
# The same for labels that are also note headings or clinical words ("Plan:", "Group: G6PD",
# "serial q4hr checks"): only "number", "no.", "ID" or "#" makes them a label.
STRICT_NUMBER_WORD = r"\s*(?:number|num\b|no\.?|id\b|#)"
# A code: 4 to 25 letters, digits and inner hyphens or slashes, at least one of them a digit.
CODE = r"(?=[A-Za-z0-9\-/]*\d)[A-Za-z0-9](?:[A-Za-z0-9\-/]{2,23})[A-Za-z0-9](?![A-Za-z0-9])"

LABELS = {
    "HEALTH_PLAN_NUMBER": (
        r"member(?:ship)?(?:\s*id|{n})|subscriber(?:{n})?|beneficiary{n}|"
        r"(?:health\s*plan|insurance){n}|plan{w}|medicaid(?:{n})?|medicare(?:{n})?|"
        r"policy{n}|group{w}|mbi|hicn"
    ),
    "ACCOUNT_NUMBER": (
        r"account{n}|acct\.?(?:{n})?|billing{w}|claim{n}|encounter{w}|visit{w}|"
        r"fin\s*[:#]|csn\s*[:#]|har\s*[:#]"
    ),
    "LICENSE_NUMBER": (
        r"driver'?s?\s*licen[cs]e(?:{n})?|licen[cs]e{n}|dl\s*[:#]|certificate{w}|"
        r"dea(?:{n})?|npi(?:{n})?|registration{w}"
    ),
    "VEHICLE_ID": (r"vin(?:{n})?|vehicle\s*identification{n}|licen[cs]e\s*plate(?:{n})?|plate{w}"),
    "DEVICE_ID": (
        r"serial{w}|s/n|sn\s*[:#]|device{w}|udi|imei|(?:implant|pacemaker|icd)\s*serial(?:{n})?"
    ),
    "ID_NUMBER": (
        r"(?:patient|case|requisition|reference|ref|confirmation|tracking|employee|student|"
        r"badge){w}|(?:specimen|accession|passport)(?:{n})?"
    ),
}
# A payment card number after "card", "credit card number", "cc #": 12 to 19 digits, alone or
# in groups ("4111 1111 1111 1112"), whether or not the Luhn check that Presidio's credit card
# recognizer applies passes. Fewer digits after "card" are a scale or a count ("card 151-200").
CARD_NUMBER = re.compile(
    r"(?i)\b(?:(?:(?:credit|debit|bank|payment)\s*)?card(?:\s*(?:number|num\b|no\.?|#))?"
    r"|cc\s*(?:number|num\b|no\.?|#)|visa|mastercard|amex|american\s+express|discover)"
    rf"{JOIN}(?P<code>\d(?:[ .\-]?\d){{11,18}})(?![\d\-])"
)
# A vehicle identification number: 17 letters and digits without I, O and Q.
VIN = re.compile(r"(?<![A-Za-z0-9])[A-HJ-NPR-Z0-9]{17}(?![A-Za-z0-9])")
VIN_LETTER_VALUES = dict(
    zip(
        "ABCDEFGHJKLMNPRSTUVWXYZ",
        [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9],
        strict=True,
    )
)
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
SCORE = 0.8
# A quantity and its unit, which follows "no" or "serial" in clinical text ("no 24hr urine").
NUMBER_AND_UNIT = re.compile(r"\d{1,4}[A-Za-z]{1,3}")
# A dosing frequency or a dose range ("q4hr", "100-200mg", "6-8wks").
CLINICAL_CODE = re.compile(r"(?i)q\d+h(?:rs?)?|\d+(?:\.\d+)?-\d+(?:\.\d+)?[a-z]+")
# Minimum length of a code made of digits alone.
MIN_DIGITS_ONLY = 5


def _label_pattern(labels: str) -> re.Pattern[str]:
    return re.compile(
        rf"(?i)(?<!/)\b(?:{labels.format(n=NUMBER_WORD, w=STRICT_NUMBER_WORD)}){JOIN}"
        rf"(?P<code>{CODE})",
    )


PATTERNS = {entity: _label_pattern(labels) for entity, labels in LABELS.items()}


def _is_code(code: str) -> bool:
    """Return whether a labelled code can be an identifier.

    A code of digits alone needs five digits, so "Medicare 2019" (a year) and "visit # 12" (a
    count) stay. A quantity with its unit, a dosing frequency and a clinical term are no codes.
    """
    digits = re.sub(r"[\-/]", "", code)
    if NUMBER_AND_UNIT.fullmatch(code) or CLINICAL_CODE.fullmatch(code):
        return False  # "24hr", "140s", "2L", "q4hr", "100-200mg"
    if code.lower() in clinical_words() or code.lower() in drug_names():
        return False  # "D5NS", "G6PD"
    return not digits.isdigit() or len(digits) >= MIN_DIGITS_ONLY


def is_valid_vin(code: str) -> bool:
    """Return whether a 17-character code has the check digit that US VINs carry at position 9."""
    if len(code) != 17 or not any(char.isdigit() for char in code):
        return False
    total = 0
    for char, weight in zip(code.upper(), VIN_WEIGHTS, strict=True):
        value = int(char) if char.isdigit() else VIN_LETTER_VALUES.get(char)
        if value is None:
            return False
        total += value * weight
    check = total % 11
    return code[8].upper() == ("X" if check == 10 else str(check))


class IdentifierRecognizer(LocalRecognizer):
    """Detect labelled identifier codes and unlabelled vehicle identification numbers."""

    NAME = "IdentifierRecognizer"
    ENTITIES = tuple(LABELS)

    def __init__(self) -> None:
        super().__init__(supported_entities=list(self.ENTITIES), name=self.NAME)

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        for entity, pattern in PATTERNS.items():
            if entity not in entities:
                continue
            for match in pattern.finditer(text):
                if not _is_code(match.group("code")):
                    continue
                results.append(self._result(entity, match.start("code"), match.end("code")))
        if "ACCOUNT_NUMBER" in entities:
            for match in CARD_NUMBER.finditer(text):
                results.append(
                    self._result("ACCOUNT_NUMBER", match.start("code"), match.end("code"))
                )
        if "VEHICLE_ID" in entities:
            for match in VIN.finditer(text):
                if is_valid_vin(match.group(0)):
                    results.append(self._result("VEHICLE_ID", match.start(), match.end()))
        return results

    def _result(self, entity: str, start: int, end: int) -> RecognizerResult:
        return make_result(
            self.NAME,
            self.id,
            entity_type=entity,
            start=start,
            end=end,
            score=SCORE,
            reason="labelled identifier",
        )
