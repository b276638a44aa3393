"""US ZIP codes: after a state name or abbreviation, or labelled as a ZIP or postal code.

Spans carry the entity `LOCATION`, so the Safe Harbor ZIP rule of `deidentify.zipcode` applies
to them (first three digits kept, or 000 for sparsely populated areas).
"""

from presidio_analyzer import Pattern, PatternRecognizer

# The 50 states, DC and the inhabited territories (USPS codes).
STATE_CODES = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL",
    "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE",
    "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD",
    "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "PR", "GU", "VI", "AS", "MP",
)  # fmt: skip
STATE_NAMES = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|"
    "Hawaii|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|"
    "Michigan|Minnesota|Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|"
    "New Mexico|New York|North Carolina|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|"
    "Rhode Island|South Carolina|South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|"
    "West Virginia|Wisconsin|Wyoming|Puerto Rico"
)
ZIP = r"\d{5}(?:-\d{4})?"
# "zip", "ZIP code:", "postal code is", "postcode" and the space or colon after them.
POSTAL_LABEL = r"\b(?i:zip\s?code|zipcode|zip|postal\s+code|post\s?code|plz)(?:\s+is)?:?\s"
# Postal codes of other countries: 3 to 5 digits with an optional second group ("3610-114",
# "840 24"), Dutch "7412 SL", Canadian "B0J 2H0" and British "SW1A 1AA".
FOREIGN_POSTAL_CODE = (
    r"(?:(?:[A-Z]{1,2}-)?\d{2,6}(?:[- ]\d{2,4}|\s?[A-Z]{2}\b)?|[A-Z]\d[A-Z]\s?\d[A-Z]\d"
    r"|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2})"
)


class ZipCodeRecognizer(PatternRecognizer):
    """Detect US ZIP and ZIP+4 codes (entity `LOCATION`)."""

    ENTITY = "LOCATION"
    PATTERNS = [
        # "Boston, MA 02115" and "Austin, Texas 78701-1234": the state makes the number a ZIP.
        Pattern(
            "zip_after_state",
            rf"(?<=\b(?:{'|'.join(STATE_CODES)})\.?\s)\s*{ZIP}\b"
            rf"|(?i:(?<=\b(?:{STATE_NAMES})\s)){ZIP}\b",
            0.85,
        ),
        # "zip 02115", "ZIP code: 02115-1234", "postal code 60614", and after such a label the
        # postal codes of other countries ("zip code is 3520", "postcode B0J 2H0", "7412 SL").
        Pattern(
            "zip_labelled",
            rf"(?<={POSTAL_LABEL}){ZIP}(?![\w-])|(?<={POSTAL_LABEL}){FOREIGN_POSTAL_CODE}"
            r"(?![\w.,/-]\w|\w)",
            0.9,
        ),
    ]
    CONTEXT = ["zip", "zipcode", "postal", "address", "lives at", "resides"]

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            name="ZipCodeRecognizer",
        )
