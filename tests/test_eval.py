import csv
from pathlib import Path

import pytest

from eval.evaluate import lead_words, render_report
from eval.rouge import RougeSettings, bootstrap_interval, per_example_f1, score_rouge


def test_identical_texts_score_100() -> None:
    scores = score_rouge(["the patient has a cough"], ["the patient has a cough"])
    assert scores["rouge1"] == 100.0
    assert scores["rougeLsum"] == 100.0


def test_known_rouge_values() -> None:
    # Two of three unigrams shared on each side: precision = recall = F1 = 2/3.
    scores = per_example_f1(
        ["cough and fever"], ["fever and chills"], RougeSettings(use_stemmer=False)
    )
    assert scores["rouge1"][0] == pytest.approx(100 * 2 / 3)
    assert scores["rouge2"][0] == 0.0


def test_stemming_setting_changes_score() -> None:
    stemmed = per_example_f1(["coughing"], ["coughs"], RougeSettings(use_stemmer=True))
    plain = per_example_f1(["coughing"], ["coughs"], RougeSettings(use_stemmer=False))
    assert stemmed["rouge1"][0] == 100.0
    assert plain["rouge1"][0] == 0.0


def test_mismatched_lengths_rejected() -> None:
    with pytest.raises(ValueError, match="pair up"):
        score_rouge(["a"], ["a", "b"])


def test_bootstrap_interval_brackets_mean() -> None:
    values = [float(v) for v in range(100)]
    low, high = bootstrap_interval(values)
    assert low < 49.5 < high
    assert high - low < 20


def test_lead_words_drops_speaker_tags() -> None:
    assert lead_words("Doctor: Hello there.\nPatient: Hi doctor.", 3) == "Hello there. Hi"


def test_report_lists_variants() -> None:
    scores = score_rouge(["a b"], ["a b"])
    results = {
        "examples": 1,
        "rouge_settings": RougeSettings().to_json(),
        "generation_settings": {"max_new_tokens": 10, "no_repeat_ngram_size": 3},
        "variants": {"finetuned": {"rouge": scores, "generation": {"new_tokens_per_s": 5}}},
    }
    report = render_report(results)
    assert "| finetuned | 100.00 |" in report


@pytest.mark.shared_data
def test_reproduces_aci_bench_biobart_scores(shared_data: Path) -> None:
    """The published ACI-Bench setting: no stemming, mean per-example F1, Lsum on newlines."""
    folder = shared_data / "aci-bench"
    references = {
        r["encounter_id"]: r["note"] for r in csv.DictReader((folder / "test2.csv").open())
    }
    predictions = list(csv.DictReader((folder / "baseline_BioBART_test2_full.csv").open()))
    ids = [row["encounter_id"] for row in predictions]
    scores = score_rouge(
        [row["note"] for row in predictions],
        [references[i] for i in ids],
        RougeSettings(use_stemmer=False),
    )
    assert scores["count"] == 40
    assert scores["rouge1"] == pytest.approx(39.00, abs=0.01)
    assert scores["rouge2"] == pytest.approx(18.44, abs=0.01)
    assert scores["rougeLsum"] == pytest.approx(33.40, abs=0.01)
