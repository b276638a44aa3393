"""Section classification: examples, scores, and a short real training run."""

import logging
from pathlib import Path

import pytest

from medsum.records import Record
from train.classify import (
    LABELS,
    build_classification_examples,
    classification_scores,
    run_section_classification,
)
from train.config import TrainConfig
from train.loop import IGNORE_INDEX


def dialogue(section: str, index: int) -> Record:
    texts = {
        "ALLERGY": "Doctor: Any allergies to medicines?\nPatient: Penicillin gives me hives.",
        "MEDICATIONS": "Doctor: What do you take daily?\nPatient: Metformin twice a day.",
    }
    return Record(id=f"{section}-{index}", text=texts[section], task="section", section=section)


def test_twenty_section_labels() -> None:
    assert len(LABELS) == 20
    assert "FAM/SOCHX" in LABELS


def test_examples_label_only_last_token(tokenizer) -> None:  # type: ignore[no-untyped-def]
    records = [dialogue("ALLERGY", 0), Record(id="x", text="Hello.", section="UNKNOWN")]
    examples, stats = build_classification_examples(tokenizer, records, TrainConfig())
    assert stats == {"records": 1, "skipped_unknown_section": 1}
    labels = examples[0].labels
    assert labels[-1] == LABELS.index("ALLERGY")
    assert all(label == IGNORE_INDEX for label in labels[:-1])


def test_scores_by_hand() -> None:
    gold = ["A", "A", "B", "C"]
    predicted = ["A", "B", "B", "B"]
    scores = classification_scores(gold, predicted)
    assert scores["accuracy"] == 0.5
    # A: p=1, r=.5, f1=.6667; B: p=1/3, r=1, f1=.5; C: 0.
    assert scores["per_class"]["A"]["f1"] == pytest.approx(0.6667, abs=1e-4)
    assert scores["per_class"]["B"]["f1"] == pytest.approx(0.5)
    assert scores["per_class"]["C"]["f1"] == 0.0
    assert scores["macro_f1"] == pytest.approx((0.6667 + 0.5) / 3, abs=1e-4)


def test_scores_reject_mismatched_lists() -> None:
    with pytest.raises(ValueError, match="equal length"):
        classification_scores(["A"], [])


def test_training_learns_two_sections(tiny_model, tokenizer, tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    base = tmp_path / "base"
    tiny_model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    train = [dialogue(s, i) for i in range(8) for s in ("ALLERGY", "MEDICATIONS")]
    test = [dialogue(s, 100 + i) for i in range(3) for s in ("ALLERGY", "MEDICATIONS")]
    config = TrainConfig(
        max_steps=30, batch_size=4, grad_accum=1, learning_rate=1e-2,
        lora_dropout=0.0, bf16_autocast=False, checkpoint_every=1000,
    )  # fmt: skip
    caplog.set_level(logging.DEBUG)
    metrics = run_section_classification(train, test, tmp_path / "out", config, str(base))
    # Logs and metrics carry counts and scores only, never dialogue text.
    logged = caplog.text + (tmp_path / "out" / "metrics.json").read_text()
    for word in ("Penicillin", "Metformin", "allergies"):
        assert word not in logged
    assert metrics["test"]["accuracy"] == 1.0
    assert metrics["majority_class_baseline"]["accuracy"] == 0.5
    assert (tmp_path / "out" / "adapter" / "adapter_config.json").is_file()
    assert (tmp_path / "out" / "metrics.json").is_file()
    assert 0 < metrics["trainable_parameters"] < metrics["total_parameters"]


def test_set_option_needs_key_and_value() -> None:
    from medsum.cli import _train_options

    assert _train_options(["max_steps=50", "learning_rate=0.001"]) == {
        "max_steps": 50,
        "learning_rate": 0.001,
    }
    with pytest.raises(ValueError, match="key=value"):
        _train_options(["max_steps"])
