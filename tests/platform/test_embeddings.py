"""The shared sentence encoder: the real MiniLM model from the `ai` extra (installed by `dev`)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from mindspace.platform import embeddings
from mindspace.platform.config import Settings

pytestmark = pytest.mark.skipif(
    not embeddings.extra_installed(), reason="needs the `ai` extra (part of `dev`)"
)


def test_vectors_are_unit_length_and_similar_sentences_are_nearer() -> None:
    encoder = embeddings.shared_encoder()
    vectors = encoder.encode(
        [
            "I feel so alone tonight and nobody would notice if I vanished.",
            "Nobody would even notice if I disappeared, I am completely alone.",
            "The allotment tomatoes need watering before the weekend.",
        ]
    )
    assert vectors.shape == (3, encoder.dimensions)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > 0.6
    assert similarity[0, 2] < 0.2


def test_one_model_per_process_and_deterministic() -> None:
    first = embeddings.shared_encoder()
    assert embeddings.shared_encoder() is first
    a = first.encode_one("I want to go to sleep and never wake up")
    b = first.encode_one("I want to go to sleep and never wake up")
    assert np.array_equal(a, b)
    assert first.encode([]).shape == (0, first.dimensions)


def test_settings_turn_it_off() -> None:
    assert embeddings.encoder_for(Settings(embeddings="off")) is None
    assert embeddings.encoder_for(Settings(embeddings="auto")) is embeddings.shared_encoder()


def test_calls_made_while_the_model_is_busy_share_a_batch_and_each_gets_its_own_rows() -> None:
    encoder = embeddings.shared_encoder()
    texts = [
        [f"Sentence {i} of caller {c}: the tide came in slowly." for i in range(3)]
        for c in range(12)
    ]
    alone = [encoder.encode(t) for t in texts]
    model = encoder._model
    batches: list[int] = []
    real_encode = model.encode

    def counting(sentences: list[str], **kwargs: Any) -> Any:
        batches.append(len(sentences))
        time.sleep(0.02)  # hold the model long enough for the other callers to queue
        return real_encode(sentences, **kwargs)

    model.encode = counting
    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            together = list(pool.map(encoder.encode, texts))
    finally:
        del model.encode
    for mine, theirs in zip(together, alone, strict=True):
        assert mine.shape == (3, encoder.dimensions)
        assert np.allclose(mine, theirs, atol=1e-5)  # padding in a batch moves only the noise
    assert sum(batches) == 36
    assert len(batches) < len(texts)  # batched, not one model call per caller
    assert max(batches) <= encoder.MAX_BATCH_TEXTS


def test_an_error_reaches_every_caller_in_the_batch_and_the_model_stays_usable() -> None:
    encoder = embeddings.shared_encoder()
    model = encoder._model

    def failing(sentences: list[str], **kwargs: Any) -> Any:
        time.sleep(0.02)
        raise RuntimeError("out of memory")

    model.encode = failing
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            outcomes = list(pool.map(lambda t: _outcome(encoder, t), [["a"], ["b"], ["c"], ["d"]]))
    finally:
        del model.encode
    assert outcomes == ["out of memory"] * 4
    assert encoder.encode(["still here"]).shape == (1, encoder.dimensions)


def _outcome(encoder: embeddings.SentenceEncoder, texts: list[str]) -> str:
    try:
        encoder.encode(texts)
    except RuntimeError as exc:
        return str(exc)
    return "encoded"
