import pytest

from deidentify.batch import (
    PreparedNlpEngine,
    deidentify_many,
    detect_many,
    run_batched,
    spacy_input,
)
from medsum.synthetic import generate_corpus

UNCASED_NOTE = (
    "PT SEEN BY DR. HARTWELL ON 3/14. WIFE MARGARET AT BEDSIDE. CALL 617-555-0199 WITH "
    "QUESTIONS. LASIX 40 MG GIVEN, GOOD RESPONSE."
)


def _texts() -> list[str]:
    records = generate_corpus(6, seed=3)
    texts = [record.text for record in records] + [r.summary or "" for r in records[:2]]
    # An uncased note, a duplicate, an empty text and one without PHI.
    return [*texts, UNCASED_NOTE, texts[0], "", "Cough improved with rest."]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return _texts()


@pytest.fixture(scope="module")
def plain_spans(deidentifier, texts):  # type: ignore[no-untyped-def]
    return [deidentifier.detect(text) for text in texts]


def test_batch_equals_plain(deidentifier, texts, plain_spans) -> None:  # type: ignore[no-untyped-def]
    assert detect_many(deidentifier, texts, batch_size=4) == plain_spans


def test_pool_equals_plain(deidentifier, texts, plain_spans) -> None:  # type: ignore[no-untyped-def]
    spans = detect_many(deidentifier, texts, workers=2, batch_size=3)
    assert len(spans) == len(texts)
    assert spans == plain_spans


def test_batch_parses_each_text_once(deidentifier, texts) -> None:  # type: ignore[no-untyped-def]
    # Every string spaCy reads comes from the prepared batch, even the truecased copy of the
    # uncased note. Only the duplicate text is parsed a second time.
    _, misses = run_batched(deidentifier, texts, lambda i: deidentifier.detect(texts[i]))
    assert misses == 1
    assert spacy_input(UNCASED_NOTE) != UNCASED_NOTE


def test_batch_restores_engine(deidentifier, texts) -> None:  # type: ignore[no-untyped-def]
    engine = deidentifier.analyzer.nlp_engine
    detect_many(deidentifier, texts[:2])
    assert deidentifier.analyzer.nlp_engine is engine
    assert not isinstance(engine, PreparedNlpEngine)


def test_deidentify_many_equals_plain(deidentifier, texts) -> None:  # type: ignore[no-untyped-def]
    patients = [f"patient-{index % 3}" for index in range(len(texts))]
    expected = [deidentifier.deidentify(t, p) for t, p in zip(texts, patients, strict=True)]
    for workers in (1, 2):
        results = deidentify_many(deidentifier, texts, patients, workers=workers, batch_size=5)
        assert [r.text for r in results] == [r.text for r in expected]
        assert [r.spans for r in results] == [r.spans for r in expected]
        assert [r.mapping for r in results] == [r.mapping for r in expected]


def test_many_empty_input(deidentifier) -> None:  # type: ignore[no-untyped-def]
    assert detect_many(deidentifier, [], workers=2) == []
    assert deidentify_many(deidentifier, [], [], workers=2) == []


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"workers": 0}, "workers must be at least 1, got 0"),
        ({"batch_size": 0}, "batch_size must be at least 1, got 0"),
    ],
)
def test_many_rejects_bad_options(deidentifier, options, expected) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=expected):
        detect_many(deidentifier, ["text"], **options)


def test_many_rejects_non_text(deidentifier) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError, match=r"texts\[1\] is a bytes; expected str"):
        detect_many(deidentifier, ["Seen today.", b"Seen by Dr. Okafor."])  # type: ignore[list-item]


def test_deidentify_many_rejects_patient_count(deidentifier) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="2 texts but 1 patient ids"):
        deidentify_many(deidentifier, ["a", "b"], ["p1"])


def test_unknown_component_rejected(deidentifier) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=r"unknown spaCy component\(s\) \['parsr'\]"):
        detect_many(deidentifier, ["Seen today."], disabled_components=["parsr"])


def test_worker_error_hides_text(deidentifier, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    secret = "Zebulon Quaxley"

    def failing_detect(text: str) -> list[object]:
        if secret in text:
            raise ValueError(f"could not parse {text!r}")
        return []

    # The forked workers inherit the patched method.
    monkeypatch.setattr(deidentifier, "detect", failing_detect)
    with pytest.raises(RuntimeError, match="chunk starting at text 2 \\(ValueError\\)") as caught:
        detect_many(deidentifier, ["one", "two", f"Seen by {secret}."], workers=2, batch_size=2)
    assert secret not in str(caught.value)
