"""Build a trainable model for one training method and save what that method trained.

LoRA and QLoRA train PEFT adapters, saved to `adapter/`. Full and partial finetuning train the
model's own weights, saved as a complete model folder (`model/`) with its tokenizer. The
pretraining adapter is merged into the full-precision base before anything is quantized, or
stacked as a frozen adapter under the new one (`chain: stack`).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import torch

from medsum.models import load_model, resolve_base_model
from train.config import TrainConfig

logger = logging.getLogger(__name__)
ADAPTER_METHODS = ("lora", "qlora")
DOMAIN_ADAPTER = "domain"


class QLoRAUnavailableError(RuntimeError):
    """Raised when QLoRA is requested on a machine that cannot load a 4-bit model."""


def check_qlora_support() -> None:
    """Raise QLoRAUnavailableError unless a CUDA GPU and bitsandbytes are present."""
    if not torch.cuda.is_available():
        raise QLoRAUnavailableError(
            "method 'qlora' needs a CUDA GPU (bitsandbytes 4-bit kernels); none is visible. "
            "Use method 'lora' on a CPU, or run on a machine with a GPU."
        )
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as error:
        raise QLoRAUnavailableError(
            "method 'qlora' needs the bitsandbytes package; install it with "
            "`pip install bitsandbytes` on the GPU machine"
        ) from error


def lora_config(config: TrainConfig) -> Any:
    from peft import LoraConfig

    # Plain LoRA on linear layers, no new tokens and no modules_to_save, so that vLLM and other
    # servers that accept standard PEFT LoRA adapters can load the result.
    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.target_modules,
        task_type="CAUSAL_LM",
    )


def load_4bit(name_or_path: str | Path) -> Any:
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    quantization = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
    return AutoModelForCausalLM.from_pretrained(
        resolve_base_model(str(name_or_path)),
        quantization_config=quantization,
        device_map={"": torch.cuda.current_device()},
        dtype=torch.bfloat16,
    )


def _merged_base(base_model: str, pretrain_adapter: Path) -> Any:
    from peft import PeftModel

    model = load_model(base_model)
    return PeftModel.from_pretrained(model, str(pretrain_adapter)).merge_and_unload()


def partial_parameter_names(model: Any, last_layers: int, norms: bool) -> list[str]:
    """Names of the parameters partial finetuning trains: the last decoder layers and norms."""
    layer_count = int(model.config.num_hidden_layers)
    first = max(0, layer_count - last_layers)
    layer_pattern = re.compile(r"\.layers\.(\d+)\.")
    names = []
    for name, _ in model.named_parameters():
        match = layer_pattern.search(name)
        in_last_layers = match is not None and int(match.group(1)) >= first
        is_norm = norms and "norm" in name.split(".")[-2]
        if in_last_layers or is_norm:
            names.append(name)
    return names


def prepare_model(
    base_model: str,
    config: TrainConfig,
    *,
    pretrain_adapter: Path | None = None,
    work_dir: Path | None = None,
) -> Any:
    """Load the base (with the pretraining adapter merged or stacked) and set what trains."""
    method = config.method
    if method == "qlora":
        check_qlora_support()
    if pretrain_adapter is not None and config.chain == "stack" and method not in ADAPTER_METHODS:
        raise ValueError(
            f"chain 'stack' keeps the pretraining adapter separate, which only works with an "
            f"adapter method (lora, qlora), not {method!r}; use chain 'merge'"
        )

    merge_first = pretrain_adapter is not None and config.chain == "merge"
    if method == "qlora":
        source: str | Path = base_model
        if merge_first:
            # Never merge into 4-bit weights: merge in full precision, save, then quantize.
            if pretrain_adapter is None or work_dir is None:
                raise ValueError("merging before QLoRA needs the adapter and a work directory")
            source = work_dir / "merged-base"
            _merged_base(base_model, pretrain_adapter).save_pretrained(source)
            from medsum.models import load_tokenizer

            load_tokenizer(base_model).save_pretrained(source)
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(load_4bit(source))
    elif merge_first and pretrain_adapter is not None:
        model = _merged_base(base_model, pretrain_adapter)
    else:
        model = load_model(base_model)

    if method in ADAPTER_METHODS:
        return _add_adapter(model, config, pretrain_adapter if not merge_first else None)
    for parameter in model.parameters():
        parameter.requires_grad = method == "full"
    if method == "partial":
        chosen = set(
            partial_parameter_names(model, config.partial_last_layers, config.partial_norms)
        )
        if not chosen:
            raise ValueError("partial finetuning selected no parameter; raise partial_last_layers")
        for name, parameter in model.named_parameters():
            parameter.requires_grad = name in chosen
    return model


def _add_adapter(model: Any, config: TrainConfig, stacked_adapter: Path | None) -> Any:
    from peft import PeftModel, get_peft_model

    if stacked_adapter is None:
        return get_peft_model(model, lora_config(config))
    model = PeftModel.from_pretrained(model, str(stacked_adapter), adapter_name=DOMAIN_ADAPTER)
    model.add_adapter("default", lora_config(config))
    model.base_model.set_adapter([DOMAIN_ADAPTER, "default"])
    # set_adapter makes every active adapter trainable; the domain adapter stays frozen.
    for name, parameter in model.named_parameters():
        parameter.requires_grad = ".default." in name and "lora_" in name
    return model


def parameter_counts(model: Any) -> dict[str, int]:
    """Trainable and total parameters (4-bit weights count as stored, two values per byte)."""
    trainable = 0
    total = 0
    for parameter in model.parameters():
        count = parameter.numel()
        if parameter.dtype == torch.uint8 and hasattr(parameter, "quant_state"):
            count *= 2
        total += count
        if parameter.requires_grad:
            trainable += count
    return {"trainable_parameters": trainable, "total_parameters": total}


def trainable_state(model: Any) -> dict[str, torch.Tensor]:
    """CPU copies of the trainable parameters, for checkpoints and for keeping the best step."""
    return {
        name: parameter.detach().to("cpu", copy=True)
        for name, parameter in model.named_parameters()
        if parameter.requires_grad
    }


def load_trainable_state(model: Any, state: dict[str, torch.Tensor]) -> None:
    parameters = dict(model.named_parameters())
    unknown = sorted(set(state) - set(parameters))
    if unknown:
        raise RuntimeError(
            f"checkpoint has {len(unknown)} parameter(s) this model lacks (first: {unknown[0]}); "
            "it was written by a different method or model, so delete the checkpoint directory"
        )
    with torch.no_grad():
        for name, value in state.items():
            parameters[name].copy_(value.to(parameters[name].device))


def save_trained(
    model: Any,
    config: TrainConfig,
    output_dir: Path,
    tokenizer: Any,
    state_dict: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Save the adapter (adapter methods) or the whole model with its tokenizer; return the path.

    `state_dict` is the gathered full state when the parameters are sharded (FSDP).
    """
    extra = {} if state_dict is None else {"state_dict": state_dict}
    if config.method in ADAPTER_METHODS:
        target = output_dir / "adapter"
        model.save_pretrained(target, selected_adapters=["default"], **extra)
        return target
    if tokenizer is None:
        raise ValueError(f"saving a {config.method}-finetuned model needs its tokenizer")
    target = output_dir / "model"
    model.save_pretrained(target, **extra)
    tokenizer.save_pretrained(target)
    return target
