"""Detect or de-identify many texts at once: spaCy batches in one process, or a pool of processes.

The batch path gives the same spans as calling `Deidentifier.detect` (or `deidentify`) once per
text, because it runs that same method. Only the spaCy step changes: `nlp.pipe` parses a batch
of texts ahead of time, and the analyzer's NLP engine then returns those artifacts instead of
parsing each text again. With `workers > 1`, texts are cut into chunks of `batch_size` and spread
over a pool of forked processes, each holding a copy of the caller's deidentifier, and the
results come back in input order.

    from deidentify import Deidentifier
    from deidentify.batch import detect_many
    spans = detect_many(Deidentifier.create(), texts, workers=4)
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine

from deidentify.analysis import readable_text, strip_invisible
from deidentify.casing import is_uncased, truecase
from deidentify.deidentifier import Deidentifier, DeidResult, Span

logger = logging.getLogger(__name__)

# Texts per `nlp.pipe` batch and per pool task. Larger batches gain little: most of the time is
# spent inside spaCy's models, not in per-call overhead.
DEFAULT_BATCH_SIZE = 32
LANGUAGE = "en"

Result = TypeVar("Result", list[Span], DeidResult)


def available_cores() -> int:
    """Return the number of CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def spacy_input(text: str) -> str:
    """Return the string that `Deidentifier.detect` gives spaCy for `text`.

    `deidentify.analysis` parses a truecased copy of uncased notes. A batch prepares that same
    string, or the analyzer would parse the note a second time. A mismatch costs speed only,
    never correctness, because unprepared strings are parsed on request.
    """
    visible, _ = strip_invisible(text)
    readable = readable_text(visible)
    return truecase(readable) if is_uncased(readable) else readable


class PreparedNlpEngine(NlpEngine):
    """An NLP engine that serves artifacts computed ahead of time by `nlp.pipe`.

    `prepare(texts)` parses a batch in one `process_batch` call. `process_text` returns the
    stored artifacts of a prepared string once and parses any other string itself, so a caller
    always gets the artifacts that `process_text` of the wrapped engine would give.
    `misses` counts the strings parsed on request, which a well-matched batch keeps at zero.
    """

    def __init__(self, inner: NlpEngine) -> None:
        self.inner = inner
        self.misses = 0
        self._prepared: dict[str, NlpArtifacts] = {}

    def prepare(self, texts: Sequence[str], batch_size: int) -> None:
        outputs = self.inner.process_batch(list(texts), LANGUAGE, batch_size=batch_size)
        self._prepared = {
            text: artifacts for text, (_, artifacts) in zip(texts, outputs, strict=True)
        }

    def clear(self) -> None:
        self._prepared = {}

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        artifacts = self._prepared.pop(text, None) if language == LANGUAGE else None
        if artifacts is None:
            self.misses += 1
            return self.inner.process_text(text, language)
        return artifacts

    def process_batch(
        self,
        texts: Iterable[str],
        language: str,
        batch_size: int = 1,
        n_process: int = 1,
        **kwargs: Any,
    ) -> Iterator[tuple[str, NlpArtifacts]]:
        return self.inner.process_batch(
            texts, language, batch_size=batch_size, n_process=n_process, **kwargs
        )

    def load(self) -> None:
        self.inner.load()

    def is_loaded(self) -> bool:
        return self.inner.is_loaded()

    def is_stopword(self, word: str, language: str) -> bool:
        return self.inner.is_stopword(word, language)

    def is_punct(self, word: str, language: str) -> bool:
        return self.inner.is_punct(word, language)

    def get_supported_entities(self) -> list[str]:
        return self.inner.get_supported_entities()

    def get_supported_languages(self) -> list[str]:
        return self.inner.get_supported_languages()


@contextmanager
def _disabled_components(engine: NlpEngine, names: Sequence[str]) -> Iterator[None]:
    """Turn off spaCy components for the duration of the block (no-op for an empty list)."""
    if not names:
        yield
        return
    nlp = engine.nlp[LANGUAGE]  # type: ignore[attr-defined]
    unknown = sorted(set(names) - set(nlp.pipe_names))
    if unknown:
        raise ValueError(
            f"unknown spaCy component(s) {unknown}; this pipeline has {nlp.pipe_names}"
        )
    with nlp.select_pipes(disable=list(names)):
        yield


def run_batched(
    deid: Deidentifier,
    texts: Sequence[str],
    call: Callable[[int], Result],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    disabled_components: Sequence[str] = (),
) -> tuple[list[Result], int]:
    """Run `call(i)` for every text index, with spaCy's artifacts prepared in batches.

    Returns the results in input order and the number of strings spaCy parsed outside a batch.

    NOTE: the analyzer's NLP engine is swapped for the duration of the call, so one
    `Deidentifier` must not serve another thread at the same time.
    """
    analyzer = deid.analyzer
    original = analyzer.nlp_engine
    prepared = PreparedNlpEngine(original)
    results: list[Result] = []
    analyzer.nlp_engine = prepared
    try:
        with _disabled_components(original, disabled_components):
            for start in range(0, len(texts), batch_size):
                stop = min(start + batch_size, len(texts))
                prepared.prepare([spacy_input(t) for t in texts[start:stop]], batch_size)
                results.extend(call(index) for index in range(start, stop))
                prepared.clear()
    finally:
        analyzer.nlp_engine = original
    return results, prepared.misses


# The deidentifier that a forked worker inherits from the process that started the pool.
_worker_deid: Deidentifier | None = None
_worker_options: dict[str, Any] = {}


def _start_worker(deid: Deidentifier, options: dict[str, Any], ready: Any) -> None:
    global _worker_deid, _worker_options
    _worker_deid, _worker_options = deid, options
    ready.release()


def _worker_task(task: tuple[str, int, list[str], list[str | None]]) -> list[Any]:
    mode, first, texts, patients = task
    deid = _worker_deid
    if deid is None:
        raise RuntimeError("worker process was not started by WorkerPool")
    try:
        if mode == "detect":
            spans, _ = run_batched(deid, texts, lambda i: deid.detect(texts[i]), **_worker_options)
            return spans
        results, _ = run_batched(
            deid, texts, lambda i: deid.deidentify(texts[i], patients[i]), **_worker_options
        )
        return results
    except Exception as exc:
        # A third-party message may quote the text, so only the position and type cross over.
        raise RuntimeError(
            f"de-identification failed in a worker process for the chunk starting at text "
            f"{first} ({type(exc).__name__}); rerun with workers=1 to see the full error"
        ) from None


def _validate(texts: Sequence[str], workers: int, batch_size: int) -> None:
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{position}] is a {type(text).__name__}; expected str")


def _check_patients(texts: Sequence[str], patient_ids: Sequence[str | None]) -> None:
    if len(patient_ids) != len(texts):
        raise ValueError(
            f"got {len(texts)} texts but {len(patient_ids)} patient ids; pass one id per text "
            "(None where unknown)"
        )


class WorkerPool:
    """Forked processes that each hold a copy of one deidentifier, started once and reused.

    Workers are forked, so they share the loaded spaCy model with the parent (copy-on-write) and
    start in well under a second. Entering the pool waits until every worker runs. Each task is
    one chunk of `batch_size` texts, and results come back in input order.

    NOTE: fork copies only the calling thread. Start the pool before the caller starts threads
    of its own that may hold locks, such as a web server's.
    """

    def __init__(
        self,
        deid: Deidentifier,
        workers: int,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        disabled_components: Sequence[str] = (),
        start_timeout_s: float = 120.0,
    ) -> None:
        _validate([], workers, batch_size)
        if "fork" not in multiprocessing.get_all_start_methods():
            raise NotImplementedError(
                "workers > 1 needs the fork start method, which this platform lacks; use workers=1"
            )
        self.deid = deid
        self.workers = workers
        self.batch_size = batch_size
        self.options = {"batch_size": batch_size, "disabled_components": tuple(disabled_components)}
        self.start_timeout_s = start_timeout_s
        self._pool: Any = None

    def __enter__(self) -> WorkerPool:
        context = multiprocessing.get_context("fork")
        ready = context.Semaphore(0)
        self._pool = context.Pool(
            self.workers, initializer=_start_worker, initargs=(self.deid, self.options, ready)
        )
        deadline = time.monotonic() + self.start_timeout_s
        for started in range(self.workers):
            if not ready.acquire(timeout=max(0.0, deadline - time.monotonic())):
                self.close()
                raise RuntimeError(
                    f"only {started} of {self.workers} worker processes started within "
                    f"{self.start_timeout_s:.0f} s; check memory or use fewer workers"
                )
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def _map(self, mode: str, texts: Sequence[str], patients: Sequence[str | None]) -> list[Any]:
        if self._pool is None:
            raise RuntimeError("WorkerPool is not running; use it in a `with` block")
        size = self.batch_size
        tasks = [
            (mode, start, list(texts[start : start + size]), list(patients[start : start + size]))
            for start in range(0, len(texts), size)
        ]
        chunks = self._pool.map(_worker_task, tasks, chunksize=1)
        return [result for chunk in chunks for result in chunk]

    def detect(self, texts: Sequence[str]) -> list[list[Span]]:
        _validate(texts, self.workers, self.batch_size)
        return self._map("detect", texts, [None] * len(texts))

    def deidentify(
        self, texts: Sequence[str], patient_ids: Sequence[str | None]
    ) -> list[DeidResult]:
        _validate(texts, self.workers, self.batch_size)
        _check_patients(texts, patient_ids)
        return self._map("deidentify", texts, patient_ids)


def _pool_size(workers: int, count: int, batch_size: int) -> int:
    return min(workers, -(-count // batch_size))


def detect_many(
    deid: Deidentifier,
    texts: Sequence[str],
    *,
    workers: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    disabled_components: Sequence[str] = (),
) -> list[list[Span]]:
    """Return `deid.detect(text)` for every text, in input order.

    `workers > 1` forks a pool of that many processes (at most one per chunk of `batch_size`
    texts). `disabled_components` turns off spaCy components such as `parser`; the spans may
    then differ from `detect`'s, so it exists for measurements only.
    """
    _validate(texts, workers, batch_size)
    if not texts:
        return []
    started = time.perf_counter()
    if workers == 1:
        spans, _ = run_batched(
            deid,
            texts,
            lambda i: deid.detect(texts[i]),
            batch_size=batch_size,
            disabled_components=disabled_components,
        )
    else:
        size = _pool_size(workers, len(texts), batch_size)
        with WorkerPool(
            deid, size, batch_size=batch_size, disabled_components=disabled_components
        ) as pool:
            spans = pool.detect(texts)
    logger.info(
        "detected spans in %d texts with %d worker(s) in %.1f s",
        len(texts),
        workers,
        time.perf_counter() - started,
    )
    return spans


def deidentify_many(
    deid: Deidentifier,
    texts: Sequence[str],
    patient_ids: Sequence[str | None],
    *,
    workers: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> list[DeidResult]:
    """Return `deid.deidentify(text, patient_id)` for every text, in input order."""
    _validate(texts, workers, batch_size)
    _check_patients(texts, patient_ids)
    if not texts:
        return []
    if workers == 1:
        results, _ = run_batched(
            deid, texts, lambda i: deid.deidentify(texts[i], patient_ids[i]), batch_size=batch_size
        )
        return results
    with WorkerPool(
        deid, _pool_size(workers, len(texts), batch_size), batch_size=batch_size
    ) as pool:
        return pool.deidentify(texts, patient_ids)
