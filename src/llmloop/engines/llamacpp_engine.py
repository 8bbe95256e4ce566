"""The llama.cpp engine: a GGUF served by llama-cpp-python, the fast CPU path.

A ``Llama`` context is not thread-safe, so the engine keeps a small pool of contexts
(``options["contexts"]``, default 1; the weights are memory-mapped once and shared) and each
request holds one for as long as it generates. Prompts are built with the chat template stored
in the GGUF (or the version's own), tokenised here, and generated token by token through
``Llama.generate``, so stop sequences, ``max_tokens``, usage counts and streaming behave exactly
as in the transformers engine (``generation.text_pieces``). Embeddings use a second, embedding-mode
context created on first use. A LoRA adapter is not applied here (llama.cpp wants it as GGUF):
a version with one is refused with a pointer to the transformers engine.

Options: ``contexts`` (pool size), ``threads`` (per context, for decoding and prompt evaluation
alike; default: the CPUs this process may use / pool size), ``n_ctx`` (default: the model's trained context, capped at 8192),
``slots`` (default 1: off; S > 1 decodes up to S requests together in one extra context, one
``llama_decode`` per step for all of them, each with its own KV stream of ``n_ctx`` tokens: see
``llamacpp_batch``; the pool's contexts then only tokenise).
"""

from __future__ import annotations

import importlib.util
import os
import queue
import random
import threading
from collections.abc import Iterator
from typing import Any

from llmloop.engines.generation import Piece, chat_chunks, completion_chunks, fit_context, text_pieces
from llmloop.engines.llamacpp_batch import SlotDecoder, SlotRequest
from llmloop.engines.protocol import closed
from llmloop.engines.schemas import (
    ChatCompletionChunk,
    ChatRequest,
    CompletionRequest,
    Embedding,
    EmbeddingRequest,
    EmbeddingResponse,
    EmbeddingUsage,
    Sampling,
    TextCompletionChunk,
)
from llmloop.engines.spec import ModelSpec
from llmloop.engines.weights import check_gguf
from llmloop.errors import InvalidInput, Unavailable

MAX_DEFAULT_CTX = 8192
CONTEXT_WAIT_S = 600.0  # a request waits at most this long for a free context: no hung requests


def llama_cpp_available() -> bool:
    """Whether llama-cpp-python is installed (an optional extra); finding it imports nothing."""
    return importlib.util.find_spec("llama_cpp") is not None


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity), not the machine's count.

    In a container or under ``taskset`` ``os.cpu_count()`` can be several times the CPUs
    granted; llama.cpp's threads meet at a barrier after every layer, so one thread more than
    there are cores stalls all of them, and decoding slows several-fold.
    """
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else (os.cpu_count() or 1)


class LlamaCppEngine:
    kind = "llamacpp"

    def __init__(self, spec: ModelSpec) -> None:
        if not llama_cpp_available():
            raise Unavailable(
                "the llamacpp engine needs llama-cpp-python: pip install llama-cpp-python",
                details={"engine": self.kind},
            )
        if spec.base_kind != "gguf":
            raise InvalidInput(
                f"{spec.ref}: the llamacpp engine serves GGUF files; this version's base is {spec.base_kind}",
                details={"model": spec.ref},
            )
        if spec.adapter_dir:
            raise InvalidInput(
                f"{spec.ref} carries a LoRA adapter, which llama.cpp cannot apply from a PEFT folder; "
                "use engine='transformers' (or export a merged GGUF with llmloop's compress tools)",
                details={"model": spec.ref},
            )
        check_gguf(spec.base, spec.base_sha256)
        self.spec = spec
        self.model = spec.ref
        n = max(1, int(spec.options.get("contexts", 1)))
        self._threads = int(spec.options.get("threads", 0)) or max(1, usable_cpus() // n)
        self._contexts: queue.Queue[Any] = queue.Queue()
        self._all: list[Any] = []
        self._embedder: Any = None
        self._embed_lock = threading.Lock()
        first = self._new_context(embedding=False, n_ctx=int(spec.options.get("n_ctx", 0)))
        trained = int(first.metadata.get("llama.context_length", 0) or first.n_ctx())
        self.context_length = spec.context_length or min(first.n_ctx(), trained)
        for _ in range(n - 1):
            self._new_context(embedding=False, n_ctx=first.n_ctx())
        self._template = spec.chat_template or first.metadata.get("tokenizer.chat_template")
        self._eos = first.token_eos()
        self._bos_text = _token_text(first, first.token_bos())
        self._eos_text = _token_text(first, self._eos)
        self._formatter: Any = None  # the template compiled once (~13 ms a compile), on first use
        self._tokenizer = first  # tokenising is read-only on the vocabulary: safe from any thread
        slots = int(spec.options.get("slots", 1))
        self._slots = (
            SlotDecoder(first, slots=slots, n_ctx=first.n_ctx(), threads=self._threads) if slots > 1 else None
        )
        self._closed = False

    def _check_open(self) -> None:
        # a closed Llama context crashes the process when used, so refuse first
        if self._closed:
            raise closed(self.model)

    def _new_context(self, *, embedding: bool, n_ctx: int) -> Any:
        from llama_cpp import Llama

        try:
            llm = Llama(
                model_path=self.spec.base,
                n_ctx=n_ctx or MAX_DEFAULT_CTX,
                n_threads=self._threads,
                # the library's default prompt-eval threads is every CPU of the machine, whatever the
                # pool size or the CPUs this process may use: contexts would oversubscribe the cores
                n_threads_batch=self._threads,
                embedding=embedding,
                verbose=False,
            )
        except (ValueError, RuntimeError) as e:
            raise Unavailable(f"{self.spec.ref}: llama.cpp cannot load {self.spec.base}: {e}") from None
        if not n_ctx:  # the default: the trained context, capped
            trained = int(llm.metadata.get("llama.context_length", 0) or 0)
            if trained and trained < llm.n_ctx():
                llm.close()
                return self._new_context(embedding=embedding, n_ctx=trained)
        self._all.append(llm)
        if not embedding:
            self._contexts.put(llm)
        return llm

    # ------------------------------------------------------------ prompts

    def chat_prompt_ids(self, request: ChatRequest) -> list[int]:
        self._check_open()
        if not self._template:
            raise InvalidInput(
                f"{self.model} has no chat template; use text completions or register one",
                details={"model": self.model},
            )
        if self._formatter is None:  # a race here only compiles twice; rendering is thread-safe
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._formatter = Jinja2ChatFormatter(
                self._template, eos_token=self._eos_text, bos_token=self._bos_text
            )
        text = self._formatter(messages=request.message_dicts()).prompt
        return list(self._tokenizer.tokenize(text.encode(), add_bos=False, special=True))

    def chat(self, request: ChatRequest) -> Iterator[ChatCompletionChunk]:
        return chat_chunks(self.model, self._generate(self.chat_prompt_ids(request), request.sampling()))

    def complete(self, request: CompletionRequest) -> Iterator[TextCompletionChunk]:
        self._check_open()
        ids = list(self._tokenizer.tokenize(request.prompt_text().encode(), add_bos=True, special=False))
        return completion_chunks(self.model, self._generate(ids, request.sampling()))

    def _generate(self, ids: list[int], sampling: Sampling) -> Iterator[Piece]:
        ids, budget = fit_context(ids, sampling, self.context_length)
        return self._pieces(ids, budget, sampling)

    def _pieces(self, ids: list[int], budget: int, s: Sampling) -> Iterator[Piece]:
        if self._slots is not None:
            yield from self._slot_pieces(ids, budget, s)
            return
        from llama_cpp import llama_vocab_is_eog

        try:
            llm = self._contexts.get(timeout=CONTEXT_WAIT_S)
        except queue.Empty:
            raise Unavailable(
                f"{self.model}: every llama.cpp context stayed busy for {CONTEXT_WAIT_S:g} s; "
                "raise options.contexts or lower the load"
            ) from None
        try:
            llm.set_seed(s.seed if s.seed is not None else random.getrandbits(31))
            llm.reset()  # no KV prefix reuse: its logits differ slightly, so a seed would not reproduce

            def tokens() -> Iterator[int | tuple[str, str]]:
                for n, tok in enumerate(
                    llm.generate(
                        ids,
                        temp=s.temperature,
                        top_p=s.top_p,
                        top_k=0,
                        min_p=0.0,
                        repeat_penalty=1.0,
                        presence_penalty=s.presence_penalty,
                        frequency_penalty=s.frequency_penalty,
                    ),
                    start=1,
                ):
                    if tok == self._eos or llama_vocab_is_eog(llm._model.vocab, tok):
                        yield ("end", "stop")
                        return
                    yield int(tok)
                    if n >= budget:
                        yield ("end", "length")
                        return

            pieces: list[bytes] = []  # each generated token's bytes, detokenised once

            def decode(toks: list[int]) -> str:
                # text_pieces asks for the whole answer at every token; the library's detokenize
                # is the concatenation of the pieces (it strips a space only after a leading BOS,
                # which an answer never starts with), so only the new tokens are looked up
                pieces.extend(llm.detokenize([t]) for t in toks[len(pieces) :])
                return b"".join(pieces).decode("utf-8", errors="replace")

            yield from text_pieces(tokens(), decode, s.stop, len(ids))
        finally:
            self._contexts.put(llm)

    def _slot_pieces(self, ids: list[int], budget: int, s: Sampling) -> Iterator[Piece]:
        assert self._slots is not None
        seed = s.seed if s.seed is not None else random.getrandbits(31)
        req = SlotRequest(ids=ids, sampling=s, seed=seed, budget=budget)
        self._slots.submit(req)

        def tokens() -> Iterator[int | tuple[str, str]]:
            while True:
                try:
                    item = req.out.get(timeout=CONTEXT_WAIT_S)
                except queue.Empty:
                    raise Unavailable(
                        f"{self.model}: no llama.cpp slot produced a token for {CONTEXT_WAIT_S:g} s; "
                        "raise options.slots or lower the load"
                    ) from None
                if isinstance(item, BaseException):
                    raise Unavailable(f"{self.model}: llama.cpp failed: {item}") from item
                yield item
                if isinstance(item, tuple):
                    return

        pieces: list[bytes] = []

        def decode(toks: list[int]) -> str:
            pieces.extend(self._tokenizer.detokenize([t]) for t in toks[len(pieces) :])
            return b"".join(pieces).decode("utf-8", errors="replace")

        try:
            yield from text_pieces(tokens(), decode, s.stop, len(ids))
        finally:
            req.cancelled = True  # finished, stopped or abandoned: the decoder frees its sequence

    # ------------------------------------------------------------ embeddings

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        self._check_open()
        with self._embed_lock:
            if self._embedder is None:
                self._embedder = self._new_context(embedding=True, n_ctx=min(self.context_length, 2048))
            texts = request.inputs()
            vectors = [self._embedder.embed(t, normalize=True, truncate=True) for t in texts]
            n = sum(len(self._embedder.tokenize(t.encode())) for t in texts)
        data = []
        for i, v in enumerate(vectors):
            flat = v[-1] if v and isinstance(v[0], list) else v  # per-token output: take the last
            data.append(Embedding(index=i, embedding=[float(x) for x in flat][: request.dimensions or None]))
        return EmbeddingResponse(
            data=data, model=self.model, usage=EmbeddingUsage(prompt_tokens=n, total_tokens=n)
        )

    def close(self) -> None:
        self._closed = True
        if self._slots is not None:
            self._slots.close()
        for llm in self._all:
            llm.close()
        self._all.clear()


def _token_text(llm: Any, tok: int) -> str:
    return str(llm.detokenize([tok], special=True).decode("utf-8", errors="replace")) if tok >= 0 else ""
