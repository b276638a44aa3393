"""Inputs that a careless user or an attacker would try: sentinel dates.

Every name, place and note here is invented.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deidentify.surrogates import SurrogateGenerator
from medsum.keys import KeyStore


def patient_with_shift(generator: SurrogateGenerator, positive: bool) -> str:
    for index in range(1000):
        patient = f"patient-{index}"
        if (generator.date_shift_days(patient) > 0) == positive:
            return patient
    raise AssertionError("no patient with a shift of that sign")


@pytest.mark.parametrize(
    ("sentinel", "positive"),
    [("12/31/9999", True), ("9999-12-31", True), ("01/01/0001", False)],
    ids=["us-9999", "iso-9999", "year-1"],
)
def test_sentinel_date_is_redacted(tmp_path: Path, sentinel: str, positive: bool) -> None:
    # Some EHR exports write 12/31/9999 as an open end date. Shifting it past year 9999 must
    # not stop the run at that record.
    generator = SurrogateGenerator(KeyStore.open(tmp_path / "keys").hmac_key)
    patient = patient_with_shift(generator, positive)
    assert generator.surrogate("DATE", sentinel, patient) == "[DATE]"


def test_sentinel_date_in_note(deidentifier) -> None:  # type: ignore[no-untyped-def]
    patient = patient_with_shift(deidentifier.surrogates, positive=True)
    text = "Consent on file, expires 12/31/9999."
    result = deidentifier.deidentify(text, patient_id=patient)
    assert "9999" not in result.text
    assert result.text == "Consent on file, expires [DATE]."
