"""Summary quality: ROUGE with bootstrap intervals, generation-based evaluation and reports."""

from eval.rouge import RougeSettings, bootstrap_interval, score_rouge

__all__ = ["RougeSettings", "bootstrap_interval", "score_rouge"]
