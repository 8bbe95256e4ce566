"""Batched decoding for the llama.cpp engine: concurrent requests share one context, one step at a time.

With ``options["slots"] = S > 1`` the engine keeps one extra llama.cpp context holding S
sequences, and one thread (``SlotDecoder``) that, at every step, puts into a single
``llama_decode`` call the next token of every running sequence (a newly admitted prompt is
evaluated alone first), then samples each sequence's next token from its own row of logits.
The weights are read once per step for all sequences, and the threads meet at their barriers
once per step instead of once per sequence.

Each sequence has its own KV stream (``kv_unified = False``): its attention runs over its own
cells only, exactly as alone in a context, so greedy answers are the same at any concurrency
(with a unified cache the reduction order over interleaved cells shifts and near-ties flip).
Each request gets its own sampler chain, built like ``Llama.generate``'s, seeded per request.
A request that stops reading (a stop sequence, a closed stream) is cancelled: its sequence
is freed at the next step.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from llmloop.engines.schemas import Sampling

End = tuple[str, str]


@dataclass(eq=False)
class SlotRequest:
    """One generation: its prompt, sampling and budget in; tokens (then an end or an error) out."""

    ids: list[int]
    sampling: Sampling
    seed: int
    budget: int
    out: queue.SimpleQueue[int | End | BaseException] = field(default_factory=queue.SimpleQueue)
    cancelled: bool = False
    # the decoder's own state
    seq: int = -1
    fed: int = 0  # prompt tokens already in the KV cache
    made: int = 0  # tokens generated
    last: int = -1  # the last sampled token, fed at the next step
    sampler: Any = None


class SlotDecoder:
    """The thread that decodes every running request of one multi-sequence context in lockstep."""

    def __init__(self, llm: Any, *, slots: int, n_ctx: int, threads: int) -> None:
        import llama_cpp
        from llama_cpp import _internals

        self._lib: Any = llama_cpp
        # the pool context's own settings (flash attention off, KV types...), so numerics match it
        params = type(llm.context_params).from_buffer_copy(llm.context_params)
        params.n_ctx = n_ctx * slots  # per sequence: n_ctx (a split, not a shared, KV cache)
        params.n_batch = params.n_ubatch = self.n_batch = min(512, n_ctx * slots)
        params.n_seq_max = slots
        params.kv_unified = False
        params.n_threads = params.n_threads_batch = threads
        # llama_cpp's classes are untyped: held as Any
        self._internals: Any = _internals
        self._ctx: Any = self._internals.LlamaContext(model=llm._model, params=params, verbose=False)
        self._batch: Any = self._internals.LlamaBatch(
            n_tokens=self.n_batch, embd=0, n_seq_max=1, verbose=False
        )
        self._vocab = llm._model.vocab
        self._n_vocab = llm.n_vocab()
        self._free = list(range(slots))
        self._waiting: deque[SlotRequest] = deque()
        self._running: list[SlotRequest] = []
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="llamacpp-slots", daemon=True)
        self._thread.start()

    def submit(self, req: SlotRequest) -> None:
        with self._wake:
            if self._closed:
                raise RuntimeError("the slot decoder is closed")
            self._waiting.append(req)
            self._wake.notify()

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()
        self._batch.close()
        self._ctx.close()

    # ------------------------------------------------------------ the decoding thread

    def _sampler(self, req: SlotRequest) -> Any:
        """The chain ``Llama.generate`` builds for the engine's settings, seeded per request."""
        s, smp = req.sampling, self._internals.LlamaSampler()
        smp.add_penalties(
            n_vocab=self._n_vocab,
            penalty_last_n=64,
            penalty_repeat=1.0,
            penalty_freq=s.frequency_penalty,
            penalty_present=s.presence_penalty,
        )
        if s.temperature == 0.0:
            smp.add_greedy()
        else:
            smp.add_top_k(0)
            smp.add_typical(1.0, 1)
            smp.add_top_p(s.top_p, 1)
            smp.add_min_p(0.0, 1)
            smp.add_temp(s.temperature)
            smp.add_dist(req.seed)
        return smp

    def _admit(self) -> None:
        while self._free and self._waiting:
            req = self._waiting.popleft()
            if req.cancelled:
                continue
            req.seq = min(self._free)  # lowest first: running ids stay consecutive (see _step)
            self._free.remove(req.seq)
            self._ctx.kv_cache_seq_rm(req.seq, -1, -1)
            req.sampler = self._sampler(req)
            self._running.append(req)

    def _release(self, req: SlotRequest) -> None:
        self._running.remove(req)
        self._ctx.kv_cache_seq_rm(req.seq, -1, -1)
        req.sampler.close()
        self._free.append(req.seq)

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._closed and not self._waiting and not self._running:
                    self._wake.wait()
                if self._closed:
                    for req in [*self._running, *self._waiting]:
                        req.out.put(RuntimeError("the engine was closed"))
                    return
                self._admit()
            for req in [r for r in self._running if r.cancelled]:
                self._release(req)
            if not self._running:
                continue
            try:
                self._step()
            except Exception as e:  # a failed decode fails every running request, not the thread
                for req in list(self._running):
                    req.out.put(e)
                    self._release(req)

    def _step(self) -> None:
        """One ``llama_decode``: a newly admitted prompt (the next chunk of it), else every generating
        sequence's last token, in increasing sequence id.

        With a KV stream per sequence llama.cpp splits a batch into micro-batches holding the same
        number of tokens of each sequence and only consecutive, increasing sequence ids
        (``split_equal``, sequential): a prompt mixed with single tokens, or ids out of order, would
        cut one step into one graph per sequence, which is no batching at all. So prompts go alone,
        sequence ids are handed out lowest first, and a step lists them in order.
        """
        b = self._batch.batch
        n = 0
        sample_at: list[tuple[int, SlotRequest]] = []

        def add(tok: int, pos: int, seq: int, logits: bool) -> None:
            nonlocal n
            b.token[n], b.pos[n], b.seq_id[n][0], b.n_seq_id[n], b.logits[n] = tok, pos, seq, 1, logits
            n += 1

        req = next((r for r in self._running if r.fed < len(r.ids)), None)
        if req is not None:
            take = min(len(req.ids) - req.fed, self.n_batch)
            for i in range(req.fed, req.fed + take):
                add(req.ids[i], i, req.seq, i == len(req.ids) - 1)
            req.fed += take
            if req.fed == len(req.ids):
                sample_at.append((n - 1, req))
        else:
            for req in sorted(self._running, key=lambda r: r.seq):
                add(req.last, len(req.ids) + req.made - 1, req.seq, True)
                sample_at.append((n - 1, req))
        b.n_tokens = n
        self._ctx.decode(self._batch)
        for idx, req in sample_at:
            tok = int(self._lib.llama_sampler_sample(req.sampler.sampler, self._ctx.ctx, idx))
            req.made += 1
            req.last = tok
            if self._lib.llama_vocab_is_eog(self._vocab, tok):
                req.out.put(("end", "stop"))
                self._release(req)
                continue
            req.out.put(tok)
            if req.made >= req.budget:
                req.out.put(("end", "length"))
                self._release(req)
