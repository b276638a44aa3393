"""Training methods (LoRA, full, partial, QLoRA), adapter chaining and early stopping."""

import json
import logging
from pathlib import Path

import pytest
import torch

from medsum.records import Record
from train.config import TrainConfig
from train.finetune import build_examples, run_finetune, split_validation
from train.loop import train_loop
from train.methods import (
    QLoRAUnavailableError,
    partial_parameter_names,
    prepare_model,
)
from train.pretrain import general_blocks

FAST = dict(
    batch_size=2,
    grad_accum=1,
    learning_rate=5e-3,
    checkpoint_every=100,
    lora_dropout=0.0,
    bf16_autocast=False,
    max_seq_len=256,
)


def records(count: int = 6) -> list[Record]:
    return [
        Record(
            id=f"r{i}",
            text=f"Doctor: Any medical problems?\nPatient: High blood pressure for {i} years.",
            summary=f"Hypertension for {i} years, on lisinopril.",
            task="section",
            section="PASTMEDICALHX",
        )
        for i in range(count)
    ]


@pytest.fixture()
def tiny_base(tiny_model, tokenizer, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    """The tiny random Llama saved as a model folder, usable wherever a base model name is."""
    folder = tmp_path / "tiny-base"
    tiny_model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def weights(path: str | Path) -> dict[str, torch.Tensor]:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path)
    return {name: p.detach().clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("method", ["full", "partial"])
def test_weight_methods_save_trained_model(tiny_base: str, tmp_path: Path, method: str) -> None:
    config = TrainConfig(method=method, max_steps=3, partial_last_layers=1, **FAST)
    metrics = run_finetune(records(), tmp_path / method, config, tiny_base)

    saved = tmp_path / method / "model"
    assert (saved / "config.json").is_file()
    assert (saved / "tokenizer.json").is_file()
    assert not (tmp_path / method / "adapter").exists()
    before, after = weights(tiny_base), weights(saved)
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed
    if method == "full":
        assert metrics["trainable_parameters"] == metrics["total_parameters"]
    else:
        assert 0 < metrics["trainable_parameters"] < metrics["total_parameters"]
        # Layer 0 of the two-layer model is frozen under partial_last_layers=1.
        assert not any(".layers.0." in name and "norm" not in name for name in changed)
        assert any(".layers.1." in name for name in changed)


def test_partial_selects_last_layers_and_norms(tiny_model) -> None:  # type: ignore[no-untyped-def]
    names = partial_parameter_names(tiny_model, last_layers=1, norms=True)
    assert "model.norm.weight" in names
    assert "model.layers.0.input_layernorm.weight" in names
    assert "model.layers.1.mlp.down_proj.weight" in names
    assert "model.layers.0.mlp.down_proj.weight" not in names
    assert "model.embed_tokens.weight" not in names


def test_partial_without_layers_or_norms_fails(tiny_base: str) -> None:
    config = TrainConfig(method="partial", partial_last_layers=0, partial_norms=False)
    with pytest.raises(ValueError, match="selected no parameter"):
        prepare_model(tiny_base, config)


def test_lora_counts_and_adapter_layout(tiny_base: str, tmp_path: Path) -> None:
    metrics = run_finetune(records(), tmp_path, TrainConfig(max_steps=2, **FAST), tiny_base)
    assert 0 < metrics["trainable_parameters"] < metrics["total_parameters"] / 5
    adapter_config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    # Servable by vLLM: LoRA on linear layers only, nothing else saved.
    assert adapter_config["peft_type"] == "LORA"
    assert not adapter_config.get("modules_to_save")
    assert set(adapter_config["target_modules"]) <= {
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
    }  # fmt: skip


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU error path")
def test_qlora_on_cpu_fails_clearly(tiny_base: str) -> None:
    with pytest.raises(QLoRAUnavailableError, match="CUDA GPU") as error:
        prepare_model(tiny_base, TrainConfig(method="qlora"))
    assert "method 'lora'" in str(error.value)


def random_adapter(base: str, folder: Path) -> Path:
    """A LoRA adapter with non-zero B matrices, so that applying it changes the logits."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(base)
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(model, lora).save_pretrained(folder)
    return folder


def test_merged_and_unmerged_logits_agree(tiny_base: str, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    adapter = random_adapter(tiny_base, tmp_path / "domain")
    input_ids = torch.tensor([[1, 50, 300, 7, 12, 900, 44]])
    base = AutoModelForCausalLM.from_pretrained(tiny_base).eval()
    with torch.no_grad():
        base_logits = base(input_ids).logits
        unmerged = PeftModel.from_pretrained(base, str(adapter)).eval()
        unmerged_logits = unmerged(input_ids).logits
        merged_logits = unmerged.merge_and_unload()(input_ids).logits
    assert not torch.allclose(base_logits, unmerged_logits, atol=1e-3)
    torch.testing.assert_close(merged_logits, unmerged_logits, atol=1e-4, rtol=1e-4)


def test_stack_chain_trains_only_new_adapter(tiny_base: str, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    domain = random_adapter(tiny_base, tmp_path / "domain")
    domain_before = load_file(domain / "adapter_model.safetensors")
    config = TrainConfig(chain="stack", max_steps=2, **FAST)
    model = prepare_model(tiny_base, config, pretrain_adapter=domain)
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable
    assert all(".default." in name for name in trainable)
    frozen_domain = [n for n, p in model.named_parameters() if ".domain." in n]
    assert frozen_domain

    metrics = run_finetune(records(), tmp_path / "ft", config, tiny_base, pretrain_adapter=domain)
    assert metrics["chain"] == "stack"
    saved = load_file(tmp_path / "ft" / "adapter" / "adapter_model.safetensors")
    # Only the new r=16 adapter on every linear layer is saved, not the r=4 domain adapter.
    assert any("down_proj.lora_A" in name for name in saved)
    assert all(t.shape[0] == 16 for name, t in saved.items() if "lora_A" in name)
    # The domain adapter on disk is untouched, and both apply in order at inference.
    after = load_file(domain / "adapter_model.safetensors")
    for name, tensor in domain_before.items():
        assert torch.equal(after[name], tensor)
    from medsum.models import load_model

    loaded = load_model(tiny_base, adapters=[domain, tmp_path / "ft" / "adapter"])
    assert loaded(torch.tensor([[1, 2, 3]])).logits.shape[-1] > 0


def test_stack_chain_rejects_full_finetuning(tiny_base: str, tmp_path: Path) -> None:
    domain = random_adapter(tiny_base, tmp_path / "domain")
    config = TrainConfig(method="full", chain="stack")
    with pytest.raises(ValueError, match="chain 'stack'"):
        prepare_model(tiny_base, config, pretrain_adapter=domain)


def test_early_stopping_restores_best_step(tiny_base: str, tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = TrainConfig(max_steps=10, eval_every=1, early_stopping_patience=2, **FAST)
    model = prepare_model(tiny_base, config)
    examples, _ = build_examples(tokenizer, records(), config)
    snapshots: list[dict[str, torch.Tensor]] = []
    scores = iter([0.5, 0.7, 0.6, 0.65, 0.9])

    def evaluate(current) -> float:  # type: ignore[no-untyped-def]
        snapshots.append(
            {n: p.detach().clone() for n, p in current.named_parameters() if p.requires_grad}
        )
        return next(scores)

    figures = train_loop(
        model, examples, config, tmp_path, tokenizer.pad_token_id, stage="t", evaluate=evaluate
    )
    assert figures["stopped_early"] is True
    assert figures["steps"] == 4
    assert figures["best_step"] == 2
    assert figures["best_eval_score"] == 0.7
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            torch.testing.assert_close(parameter.detach(), snapshots[1][name])
    history = json.loads((tmp_path / "history.json").read_text())
    assert [e["eval_score"] for e in history if "eval_score" in e] == [0.5, 0.7, 0.6, 0.65]


def test_generation_validation_runs_in_finetune(tiny_base: str, tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    config = TrainConfig(max_steps=2, eval_every=1, eval_samples=2, eval_max_new_tokens=4, **FAST)
    caplog.set_level(logging.DEBUG)
    metrics = run_finetune(records(8), tmp_path, config, tiny_base)
    # Neither logs nor metrics nor history carry the dialogue or summary text.
    written = caplog.text + (tmp_path / "metrics.json").read_text()
    written += (tmp_path / "history.json").read_text()
    assert "blood pressure" not in written
    assert "lisinopril" not in written
    assert metrics["validation_records"] == 2
    assert metrics["records"] == 6
    assert 0.0 <= metrics["best_eval_score"] <= 1.0
    history = json.loads((tmp_path / "history.json").read_text())
    assert sum("eval_score" in entry for entry in history) == 2


def test_validation_split_needs_enough_records() -> None:
    with pytest.raises(ValueError, match="eval_samples=16"):
        split_validation(records(10), TrainConfig(eval_every=5))


def test_general_text_mixing_share(tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    general = tmp_path / "general.txt"
    general.write_text("The river runs east.\n\nA train left at noon.\n\nBread needs flour.\n")
    config = TrainConfig(general_text=str(general), general_fraction=0.25, max_seq_len=64)
    blocks = general_blocks(config, tokenizer, domain_blocks=30)
    # 25% of the mixed set: 10 general blocks beside 30 domain blocks.
    assert len(blocks) == 10


def test_general_text_errors_are_clear(tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="needs general_text"):
        TrainConfig(general_fraction=0.2)
    binary = tmp_path / "general.bin"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    config = TrainConfig(general_text=str(binary), general_fraction=0.2)
    with pytest.raises(ValueError, match="UTF-8 text file"):
        general_blocks(config, tokenizer, 10)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"method": "adapter"}, "method must be one of"),
        ({"chain": "concat"}, "chain must be one of"),
        ({"early_stopping_patience": 2}, "needs eval_every"),
        ({"eval_every": 0}, "eval_every"),
    ],
)
def test_method_options_validated(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig(**options)


def test_declared_deidentified_only_for_train(tmp_path: Path) -> None:
    from medsum.config import ConfigError, load_config

    path = tmp_path / "c.yaml"
    path.write_text("eval_data:\n  source: synthetic\n  already_deidentified: true\n")
    with pytest.raises(ConfigError, match="train_data only"):
        load_config(path)


def test_training_refuses_data_without_deid_report(tmp_path: Path) -> None:
    from deidentify.corpus import load_deidentified
    from medsum.stages import copy_declared_deidentified

    folder = tmp_path / "deid" / "train"
    folder.mkdir(parents=True)
    (folder / "records.jsonl").write_text(json.dumps(records(1)[0].to_json()) + "\n")
    with pytest.raises(FileNotFoundError, match="no de-identification report"):
        load_deidentified(folder)

    report = copy_declared_deidentified(records(3), folder)
    assert report["declared_already_deidentified"] is True
    (folder / "report.json").write_text(json.dumps(report))
    assert len(load_deidentified(folder)) == 3


def test_last_step_always_evaluated(tiny_base: str, tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = TrainConfig(max_steps=4, eval_every=3, **FAST)
    model = prepare_model(tiny_base, config)
    examples, _ = build_examples(tokenizer, records(), config)
    figures = train_loop(
        model, examples, config, tmp_path, tokenizer.pad_token_id, stage="t",
        evaluate=lambda current: 0.5,
    )  # fmt: skip
    history = json.loads((tmp_path / "history.json").read_text())
    assert [entry["step"] for entry in history if "eval_score" in entry] == [3, 4]
    assert figures["best_step"] == 3
