"""Offline switches for the libraries medsum loads.

Hugging Face libraries and tldextract (used by Presidio's e-mail recognizer) reach the network at
import or first use unless these variables are set before they are imported. A user who wants
network access sets `MEDSUM_ALLOW_NETWORK=1`.
"""

import os

OFFLINE_VARIABLES = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",
    "TOKENIZERS_PARALLELISM": "false",
}


def apply() -> None:
    """Set the offline variables unless the user allowed network access."""
    if os.environ.get("MEDSUM_ALLOW_NETWORK") == "1":
        return
    for name, value in OFFLINE_VARIABLES.items():
        os.environ.setdefault(name, value)
