"""The shared sentence encoder: the real MiniLM model from the `ai` extra (installed by `dev`)."""

from __future__ import annotations

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
