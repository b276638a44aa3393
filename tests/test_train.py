import math
from pathlib import Path

import pytest
import torch

from medsum.records import Record
from train.config import TrainConfig
from train.finetune import build_examples
from train.loop import (
    IGNORE_INDEX,
    Example,
    NoSupervisedTokensError,
    collate,
    mean_loss,
    pack_documents,
    train_loop,
)
from train.pretrain import apply_lora, document_blocks


def record(summary: str | None = "Hypertension, on lisinopril.") -> Record:
    return Record(
        id="r1",
        text="Doctor: Any medical problems?\nPatient: High blood pressure.",
        summary=summary,
        task="section",
        section="PASTMEDICALHX",
    )


def test_finetune_labels_cover_summary_only(tokenizer) -> None:  # type: ignore[no-untyped-def]
    examples, stats = build_examples(tokenizer, [record()], TrainConfig())
    example = examples[0]
    supervised = [
        t
        for t, label in zip(example.input_ids, example.labels, strict=True)
        if label != IGNORE_INDEX
    ]
    assert tokenizer.decode(supervised[:-1]) == "Hypertension, on lisinopril."
    assert supervised[-1] == tokenizer.eos_token_id
    assert stats["records"] == 1
    assert stats["truncated_targets"] == 0
    prompt_part = tokenizer.decode(example.input_ids[: example.labels.index(supervised[0])])
    assert "past medical history" in prompt_part
    assert "High blood pressure" in prompt_part


def test_finetune_counts_truncated_targets(tokenizer) -> None:  # type: ignore[no-untyped-def]
    config = TrainConfig(max_target_tokens=3)
    examples, stats = build_examples(tokenizer, [record()], config)
    assert stats["truncated_targets"] == 1
    assert sum(label != IGNORE_INDEX for label in examples[0].labels) == 4


def test_records_without_summary_are_skipped(tokenizer) -> None:  # type: ignore[no-untyped-def]
    examples, stats = build_examples(tokenizer, [record(summary=None)], TrainConfig())
    assert examples == []
    assert stats["skipped_without_summary"] == 1


def test_batch_without_supervised_token_fails() -> None:
    batch = [Example(input_ids=[1, 2, 3], labels=[IGNORE_INDEX] * 3)]
    with pytest.raises(NoSupervisedTokensError, match="no supervised token"):
        collate(batch, pad_id=0)


def test_document_blocks_never_mix_documents(tokenizer) -> None:  # type: ignore[no-untyped-def]
    texts = ["alpha " * 50, "beta " * 10]
    blocks = document_blocks(tokenizer, texts, block=16)
    eos = tokenizer.eos_token_id
    for block in blocks:
        assert len(block.input_ids) <= 16
        if eos in block.input_ids:
            assert block.input_ids.index(eos) == len(block.input_ids) - 1
    decoded = [tokenizer.decode(b.input_ids) for b in blocks]
    assert not any("alpha" in text and "beta" in text for text in decoded)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"learning_rate": 0}, "learning_rate"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_steps": 0}, "max_steps"),
        ({"max_seq_len": 4}, "max_seq_len"),
        ({"epochs": -1}, "epochs"),
    ],
)
def test_config_rejects_bad_values(options: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        TrainConfig(**options)


def test_config_rejects_unknown_option() -> None:
    with pytest.raises(ValueError, match="unknown training option"):
        TrainConfig.from_dict({"learning_rat": 1e-4})


def test_lora_training_lowers_loss(tiny_model, tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = TrainConfig(
        max_steps=12,
        batch_size=2,
        grad_accum=1,
        learning_rate=5e-3,
        log_every=4,
        checkpoint_every=100,
    )
    examples, _ = build_examples(tokenizer, [record()] * 4, config)
    model = apply_lora(tiny_model, config)
    before = mean_loss(model, examples, tokenizer.pad_token_id)
    figures = train_loop(model, examples, config, tmp_path, tokenizer.pad_token_id, stage="test")
    after = mean_loss(model, examples, tokenizer.pad_token_id)
    assert after < before - 0.5
    assert figures["steps"] == 12
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    assert math.isfinite(figures["final_loss"])


def test_resume_matches_uninterrupted_run(tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A run stopped after a checkpoint and resumed ends with the same adapter weights."""
    from transformers import LlamaConfig, LlamaForCausalLM

    def fresh_model():  # type: ignore[no-untyped-def]
        torch.manual_seed(0)
        config = LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
            num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=True,
        )  # fmt: skip
        return LlamaForCausalLM(config)

    base = dict(
        batch_size=2,
        grad_accum=1,
        learning_rate=1e-2,
        checkpoint_every=3,
        lora_dropout=0.0,
        bf16_autocast=False,
    )
    examples, _ = build_examples(tokenizer, [record()] * 6, TrainConfig())

    straight = apply_lora(fresh_model(), TrainConfig(max_steps=6, **base))
    train_loop(
        straight,
        examples,
        TrainConfig(max_steps=6, **base),
        tmp_path / "a",
        tokenizer.pad_token_id,
        stage="a",
    )

    # Interrupted run: train 3 steps with a checkpoint, as if killed right after it.
    interrupted = apply_lora(fresh_model(), TrainConfig(max_steps=6, **base))
    stop_early = TrainConfig(max_steps=6, **base)
    from train import loop

    original_save = loop._save_checkpoint

    class Killed(Exception):
        pass

    def save_then_die(*args, **kwargs):  # type: ignore[no-untyped-def]
        original_save(*args, **kwargs)
        raise Killed

    loop._save_checkpoint = save_then_die  # type: ignore[assignment]
    try:
        with pytest.raises(Killed):
            train_loop(
                interrupted, examples, stop_early, tmp_path / "b", tokenizer.pad_token_id, stage="b"
            )
    finally:
        loop._save_checkpoint = original_save  # type: ignore[assignment]
    assert (tmp_path / "b" / "checkpoint" / "state.pt").is_file()

    resumed = apply_lora(fresh_model(), TrainConfig(max_steps=6, **base))
    train_loop(resumed, examples, stop_early, tmp_path / "b", tokenizer.pad_token_id, stage="b")

    from peft import get_peft_model_state_dict

    expected = get_peft_model_state_dict(straight)
    actual = get_peft_model_state_dict(resumed)
    for name, tensor in expected.items():
        torch.testing.assert_close(actual[name], tensor, rtol=1e-4, atol=1e-5)


def test_bench_batches_per_mode() -> None:
    from train.bench import build_batches

    rows = [[1] * 5, [2] * 3, [3] * 8]
    padded = build_batches("padded", rows, seq_len=8, batch_size=2, steps=2, pad_id=0)
    assert all(len(e.input_ids) == 8 for batch in padded for e in batch)
    packed = build_batches("packed", rows, seq_len=8, batch_size=2, steps=1, pad_id=0)
    assert [len(e.input_ids) for e in packed[0]] == [8, 8]
    assert [e.segments for e in packed[0]] == [[5, 3], [8]]
    cross = build_batches("packed_cross", rows, seq_len=8, batch_size=2, steps=1, pad_id=0)
    assert all(e.segments is None for e in cross[0])
    assert all(label != IGNORE_INDEX for e in cross[0] for label in e.labels)
    grouped = build_batches("grouped", rows, seq_len=8, batch_size=2, steps=3, pad_id=0)
    assert len(grouped) == 3
    with pytest.raises(ValueError, match="unknown mode"):
        build_batches("sorted", rows, seq_len=8, batch_size=2, steps=1, pad_id=0)


def test_packing_fills_rows_and_keeps_documents_apart() -> None:
    documents = [[1, 2, 3], [4, 5, 6, 7, 8], [9, 10]]
    rows = pack_documents(documents, block=4)
    assert [row.input_ids for row in rows] == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]
    assert [row.segments for row in rows] == [[3, 1], [4], [2]]
    # A segment's first token is never a target: it would be predicted from another document.
    assert rows[0].labels == [IGNORE_INDEX, 2, 3, IGNORE_INDEX]
    assert rows[1].labels == [IGNORE_INDEX, 6, 7, 8]


def test_packed_logits_equal_separate_documents(tiny_model) -> None:  # type: ignore[no-untyped-def]
    tiny_model.eval()
    first, second = [5, 17, 300, 42, 8], [900, 12, 77]
    rows = pack_documents([first, second], block=8)
    tensors = collate(rows, pad_id=0)
    with torch.no_grad():
        packed = tiny_model(
            input_ids=tensors["input_ids"],
            attention_mask=tensors["attention_mask"],
            position_ids=tensors["position_ids"],
        ).logits[0]
        alone_first = tiny_model(torch.tensor([first])).logits[0]
        alone_second = tiny_model(torch.tensor([second])).logits[0]
    torch.testing.assert_close(packed[:5], alone_first, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(packed[5:], alone_second, atol=1e-5, rtol=1e-4)


def test_packed_batch_trains(tiny_model, tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    documents = [[10 + i, 20 + i, 30 + i, 40 + i, 2] for i in range(12)]
    rows = pack_documents(documents, block=16)
    config = TrainConfig(
        max_steps=6, batch_size=2, grad_accum=1, learning_rate=5e-3, checkpoint_every=100,
    )  # fmt: skip
    model = apply_lora(tiny_model, config)
    before = mean_loss(model, rows, tokenizer.pad_token_id)
    figures = train_loop(model, rows, config, tmp_path, tokenizer.pad_token_id, stage="packed")
    assert mean_loss(model, rows, tokenizer.pad_token_id) < before
    # 60 tokens in rows of 16, 16, 16 and 12: two batches per epoch, so 6 steps are 3 epochs,
    # and every counted token is a real one (no padding in full packed rows).
    assert [len(row.input_ids) for row in rows] == [16, 16, 16, 12]
    assert figures["tokens_seen_this_run"] == 3 * 60
