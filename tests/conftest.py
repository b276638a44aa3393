"""Shared fixtures. Keys go to a temporary directory so tests never touch a user's keys."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_KEY_DIR = tempfile.mkdtemp(prefix="medsum-test-keys-")
os.environ["MEDSUM_KEY_DIR"] = _KEY_DIR

import medsum  # noqa: E402,F401  (applies the offline switches for every test)
from medsum.config import data_dir  # noqa: E402


@pytest.fixture(scope="session")
def key_dir() -> Path:
    return Path(_KEY_DIR)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The public clinical sets; skipped when absent unless MEDSUM_REQUIRE_DATA=1 (CI)."""
    path = data_dir()
    if not (path / "mts-dialog" / "train.csv").is_file():
        message = (
            f"public clinical data not found at {path}; set MEDSUM_DATA_DIR to a folder "
            "holding mts-dialog/, aci-bench/ and physionet-deid/"
        )
        if os.environ.get("MEDSUM_REQUIRE_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def deidentifier():  # type: ignore[no-untyped-def]
    from deidentify import Deidentifier

    return Deidentifier.create()


@pytest.fixture(scope="session")
def tokenizer():  # type: ignore[no-untyped-def]
    from medsum.models import load_tokenizer

    return load_tokenizer()


@pytest.fixture()
def tiny_model(tokenizer):  # type: ignore[no-untyped-def]
    """A randomly initialized 2-layer Llama with the real tokenizer's vocabulary."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config)
