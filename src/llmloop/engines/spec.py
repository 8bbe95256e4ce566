"""What an engine needs to know to serve one model version: the contract between registry and engines.

The registry (``llmloop.services.registry.loading.model_spec``) turns a pinned ``NAME@VERSION`` into a
``ModelSpec``; the engines (``llmloop.engines.load_engine``) turn a ``ModelSpec`` into a running
``InferenceEngine``. Neither side imports the other's internals, so an engine can be tested on a
folder built in a fixture and the registry without loading any weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

BaseKind = Literal["hf_dir", "gguf", "hub", "upstream"]
# The built-in kinds (``engines.registry.BUILTINS``; a test keeps them equal): what a version may pin
# as its default engine. A plugin engine is asked for by name per call (``load_engine(spec, kind)``).
EngineKind = Literal["transformers", "llamacpp", "vllm", "openai"]
# What a version may ask for as ``quantization``, and the engine that applies it while loading the
# weights. A GGUF file's own quantization (q4_1, ...) is read from the file, never asked for.
QUANTIZATIONS: dict[str, EngineKind] = {"int8-dynamic": "transformers"}


@dataclass(frozen=True)
class Upstream:
    """An OpenAI-compatible server the user runs (OpenAI, vLLM, TGI, Ollama...)."""

    base_url: str  # e.g. http://127.0.0.1:8000/v1
    model: str  # the model name the upstream knows
    # the key to send now (``security.upstream.UpstreamKey``: checked against its author's permission);
    # never stored, never read from the environment by an engine
    api_key: Callable[[], str] | None = field(default=None, compare=False, repr=False)
    timeout_s: float = 60.0
    max_retries: int = 2


@dataclass(frozen=True)
class ModelSpec:
    """One servable model version, with every path already local and checked by the registry.

    ``key`` identifies the weights (base digest + adapter digest). The engine cache is keyed by
    the whole spec (``llmloop.engines.served_identity``), so two references to the same version
    share one loaded engine, and versions that differ in anything else never do.
    """

    ref: str  # NAME@VERSION, for messages and the ``model`` field of responses
    key: str
    base_kind: BaseKind
    base: str  # a local folder, a GGUF file, a hub id, or (upstream) the upstream's model name
    base_sha256: str | None = None  # GGUF / weights digest recorded at registration
    adapter_dir: str | None = None  # a local PEFT LoRA folder
    adapter_name: str | None = None  # the name an upstream (vLLM) knows the adapter by
    chat_template: str | None = None  # overrides the tokenizer's template
    context_length: int | None = None
    quantization: str | None = None  # e.g. "q4_1" (GGUF) or "int8-dynamic"
    default_engine: EngineKind | None = None
    upstream: Upstream | None = None
    cache_dir: str | None = None  # where derived weights (dequantised GGUF, merges) are cached
    options: dict[str, str] = field(default_factory=dict)
