"""PHI de-identification: detection, surrogates, date shifting and the re-identification vault.

This package depends only on medsum's base layer (keys, records), so it can be used alone with no
server and no GPU:

    from deidentify import Deidentifier
    deid = Deidentifier.create()
    result = deid.deidentify("Seen by Dr. Smith on 03/04/2021.", patient_id="p1")
    result.text, result.counts
"""

import medsum  # noqa: F401  (sets the offline switches before Presidio imports tldextract)
from deidentify.deidentifier import Deidentifier, DeidResult, Span, reidentify
from deidentify.engine import build_analyzer
from deidentify.vault import Vault

__all__ = ["DeidResult", "Deidentifier", "Span", "Vault", "build_analyzer", "reidentify"]
