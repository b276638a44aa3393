"""ZIP code recognizer: table of hits and look-alikes, and the Safe Harbor rule end to end."""

import pytest

from deidentify.recognizers.zip_code import ZipCodeRecognizer

RECOGNIZER = ZipCodeRecognizer()


def found(text: str) -> list[str]:
    return [text[r.start : r.end] for r in RECOGNIZER.analyze(text, ["LOCATION"])]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Lives at 12 Elm Street, Boston, MA 02115.", ["02115"]),
        ("Austin, Texas 78701-1234", ["78701-1234"]),
        ("SPRINGFIELD, IL. 62704", ["62704"]),
        ("zip code: 60614", ["60614"]),
        ("ZIP 02115", ["02115"]),
        ("postal code 30301", ["30301"]),
        ("New York 10001", ["10001"]),
        ("zip 1234", ["1234"]),
        ("my zip code is 3520.", ["3520"]),
        ("Postal code: 3610-114", ["3610-114"]),
        ("ZIP: 394 13", ["394 13"]),
        ("postcode 7412 SL", ["7412 SL"]),
        ("postal code B0J 2H0", ["B0J 2H0"]),
        ("post code SW1A 1AA", ["SW1A 1AA"]),
        ("Postal code 560001.", ["560001"]),
        ("Zip code: D-80331", ["D-80331"]),
    ],
)
def test_zip_codes_found(text: str, expected: list[str]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "potassium 12345 units",
        "WBC 10500 on admission",
        "MA 2115",
        "platelets 150000",
        "order number 55555 placed",
        "zip 7 days",
        "zip code is 12.5 mg",
        "zip lock bag 2",
    ],
)
def test_look_alikes_kept(text: str) -> None:
    assert found(text) == []


def test_zip_generalized_in_output(deidentifier) -> None:  # type: ignore[no-untyped-def]
    result = deidentifier.deidentify("Lives at 12 Elm Street, Boston, MA 02115.", "p1")
    assert "02115" not in result.text
    assert "021" in result.text
    assert any(span.recognizer == "ZipCodeRecognizer" for span in result.spans)


def test_foreign_postal_code_replaced_in_output(deidentifier) -> None:  # type: ignore[no-untyped-def]
    result = deidentifier.deidentify("Postal code: 3610-114. ZIP: 394 13.", "p1")
    assert "3610-114" not in result.text
    assert "394 13" not in result.text
    assert [span.recognizer for span in result.spans] == ["ZipCodeRecognizer"] * 2
