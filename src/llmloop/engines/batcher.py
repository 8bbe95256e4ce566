"""Continuous batching for a transformers causal LM: concurrent requests share every forward pass.

One thread owns the model. Requests queue up; at each decoding step the thread admits waiting
requests (one batched prefill, left-padded), merges their KV cache into the running batch's
(padding the shorter one on the left, masked out), samples one token per row with that row's
own temperature/top-p/seed, hands it to the request's queue, and drops finished or cancelled
rows from the cache. So a short request that arrives while a long one is decoding joins at the
next step and finishes on its own schedule, and 8 concurrent requests cost about one forward
pass per token instead of eight.

Requests that start alike (one system prompt, one block of worked examples: every row of an
evaluation, most of a gateway's traffic) share that start's KV cache: the batcher keeps the keys
and values of the longest prefix common to an admitted batch (``PrefixCache``) and prefills only
what follows it. A causal model's cache for the first n tokens does not depend on what comes after,
so a stored prefix serves any later request that begins with any part of it. On a 4-shot evaluation
prompt that is most of the prompt, and prefill is most of the work.

transformers 5.24's own continuous batching (``generate_batch`` / ``ContinuousBatchingManager``)
was tried first: it runs on CPU, but its paged-attention scheduler took 13 s for 8 x 16 tokens
on a 2-layer toy model, and it samples with one generation config for all requests; this
batcher keeps per-request sampling and costs a few milliseconds per step over the model.
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import torch

from llmloop.engines.schemas import Sampling

# A shared start shorter than this is recomputed: below it the copy costs about what it saves.
PREFIX_MIN_TOKENS = 32
PREFIX_CACHE_ENTRIES = 4


class PrefixCache:
    """Keys and values (batch of one, per layer) of recently shared prompt starts, least recent dropped.

    ``match`` finds the stored start that covers the most of every given prompt; any leading part of
    a stored start is usable as it is, because a causal model's cache for a token never reads later ones.
    """

    def __init__(self, entries: int = PREFIX_CACHE_ENTRIES) -> None:
        self.entries = entries
        self._store: OrderedDict[tuple[int, ...], list[tuple[torch.Tensor, torch.Tensor]]] = OrderedDict()
        self.hits = 0  # prompt tokens that rows took from here instead of prefilling (tests, benches)

    def match(self, prompts: list[list[int]]) -> tuple[int, list[tuple[torch.Tensor, torch.Tensor]]]:
        """(n, per-layer cache of the first n tokens) for the stored start shared longest by all prompts."""
        best_n, best_key = 0, None
        limit = min(len(p) for p in prompts) - 1  # every prompt keeps a token to prefill (its logits)
        for key in self._store:
            n = min(limit, len(key), *(common_prefix(key, p) for p in prompts))
            if n > best_n:
                best_n, best_key = n, key
        if best_key is None or best_n < PREFIX_MIN_TOKENS:
            return 0, []
        self._store.move_to_end(best_key)
        return best_n, [(k[:, :, :best_n], v[:, :, :best_n]) for k, v in self._store[best_key]]

    def put(self, ids: list[int], layers: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self._store[tuple(ids)] = layers
        self._store.move_to_end(tuple(ids))
        while len(self._store) > self.entries:
            self._store.popitem(last=False)


def common_prefix(a: tuple[int, ...] | list[int], b: list[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclass
class Job:
    """One request inside the batcher; ``out`` receives token ids, then ``("end", reason)`` or an exception."""

    ids: list[int]
    max_new: int
    sampling: Sampling
    out: queue.Queue[Any] = field(default_factory=queue.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    generated: int = 0
    generator: torch.Generator | None = None
    counts: dict[int, int] = field(default_factory=dict)  # generated token -> times, for penalties


class Batcher:
    """The decoding loop for one model; ``submit`` is thread-safe, ``close`` stops the thread."""

    def __init__(
        self, model: Any, *, eos_ids: set[int], pad_id: int, max_batch: int = 32, share_prefixes: bool = True
    ) -> None:
        self.model = model
        self.prefixes = PrefixCache() if share_prefixes and _plain_kv_cache(model) else None
        self.device = next(model.parameters()).device
        self.eos_ids = eos_ids
        self.pad_id = pad_id
        self.max_batch = max_batch
        self._queue: queue.Queue[Job | list[Job] | None] = queue.Queue()
        self._closed = False
        # The running batch: one row per job.
        self._jobs: list[Job] = []
        self._cache: Any = None
        self._mask: torch.Tensor | None = None  # [B, S] 1 for real tokens
        self._pos: torch.Tensor | None = None  # [B] position of the next token
        self._logits: torch.Tensor | None = None  # [B, V] logits for the next token
        self._thread = threading.Thread(target=self._loop, name="llmloop-batcher", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> Job:
        self._queue.put(self._ready(job))
        return job

    def submit_group(self, jobs: list[Job]) -> list[Job]:
        """Queue ``jobs`` as one item: admitted together, in one prefill, rows ordered by their token
        ids. Submitted one by one from threads, a batch's composition depends on which thread arrives
        first, and in bf16 a row's numbers depend on its batch's layout, so the same evaluation could
        answer differently run to run; a group sent to an idle batcher always meets the same layout."""
        self._queue.put([self._ready(j) for j in jobs])
        return jobs

    def _ready(self, job: Job) -> Job:
        if self._closed:
            from llmloop.errors import Unavailable

            raise Unavailable("the engine was released; load it again")
        if job.sampling.seed is not None and not job.sampling.greedy:
            job.generator = torch.Generator().manual_seed(job.sampling.seed)
        return job

    def close(self) -> None:
        self._closed = True
        self._queue.put(None)
        self._thread.join(30)

    # ------------------------------------------------------------ the loop

    def _loop(self) -> None:
        while True:
            new: list[Job] = []
            alone = False
            if not self._jobs:
                first = self._queue.get()
                if first is None:
                    return
                alone = isinstance(first, list)  # a group met by an idle batcher is admitted by itself
                new.extend(first if isinstance(first, list) else [first])
            while not alone and len(self._jobs) + len(new) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._fail_all(RuntimeError("engine closed"), new)
                    return
                new.extend(nxt if isinstance(nxt, list) else [nxt])
            new = [j for j in new if not j.cancelled.is_set()]
            if alone:
                new.sort(key=lambda j: j.ids)
            try:
                with torch.inference_mode():
                    if new:
                        self._admit(new)
                    if self._jobs:
                        self._step()
            except Exception as e:  # a failing forward fails the requests in it, not the thread
                self._fail_all(e, new)

    def _fail_all(self, err: BaseException, extra: list[Job]) -> None:
        for job in {id(j): j for j in self._jobs + extra}.values():
            job.out.put(err)
        self._jobs, self._cache, self._mask, self._pos, self._logits = [], None, None, None, None

    def _forward(self, ids: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor, cache: Any) -> torch.Tensor:
        out = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=pos,
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        return out.logits[:, -1, :].float()  # type: ignore[no-any-return]

    def _admit(self, jobs: list[Job]) -> None:
        """Prefill ``jobs`` together (after any start they share with the prefix cache) and merge them
        into the running batch."""
        from transformers import DynamicCache

        shared, layers = self._shared_start(jobs)
        if self.prefixes is not None:
            self.prefixes.hits += shared * len(jobs)
        tails = [j.ids[shared:] for j in jobs]
        width = max(len(t) for t in tails)
        ids = torch.full((len(jobs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(jobs), shared + width), dtype=torch.long)
        mask[:, :shared] = 1
        for r, t in enumerate(tails):
            ids[r, width - len(t) :] = torch.tensor(t)
            mask[r, shared + width - len(t) :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)[:, shared:]
        cache = DynamicCache(config=self.model.config)
        for i, (k, v) in enumerate(layers):
            cache.update(k.expand(len(jobs), -1, -1, -1), v.expand(len(jobs), -1, -1, -1), i)
        logits = self._forward(ids, mask, pos, cache)
        width = shared + width
        next_pos = mask.sum(-1)
        if not self._jobs:
            self._jobs, self._cache, self._mask, self._pos, self._logits = (
                list(jobs),
                cache,
                mask,
                next_pos,
                logits,
            )
            return
        assert self._mask is not None and self._pos is not None and self._logits is not None
        s_old, s_new = self._mask.shape[1], width
        s = max(s_old, s_new)
        new_layers: list[Any] = list(cache.layers)
        for old_layer, new_layer in zip(self._cache.layers, new_layers, strict=True):
            old_layer.keys = torch.cat([_left_pad(old_layer.keys, s), _left_pad(new_layer.keys, s)])
            old_layer.values = torch.cat([_left_pad(old_layer.values, s), _left_pad(new_layer.values, s)])
        self._mask = torch.cat([_left_pad(self._mask, s, dim=1), _left_pad(mask, s, dim=1)])
        self._pos = torch.cat([self._pos, next_pos])
        self._logits = torch.cat([self._logits, logits])
        self._jobs.extend(jobs)

    def _shared_start(self, jobs: list[Job]) -> tuple[int, list[tuple[torch.Tensor, torch.Tensor]]]:
        """(n, per-layer cache) for the first n tokens every job shares, from the prefix cache, or
        computed now (and stored) when this batch shares a longer start than anything stored."""
        if self.prefixes is None:
            return 0, []
        prompts = [j.ids for j in jobs]
        n, layers = self.prefixes.match(prompts)
        if len(jobs) < 2:
            return n, layers
        longest = min(min(common_prefix(prompts[0], p) for p in prompts), min(map(len, prompts)) - 1)
        if longest < max(PREFIX_MIN_TOKENS, n + PREFIX_MIN_TOKENS):
            return n, layers
        from transformers import DynamicCache

        start = prompts[0][:longest]
        cache = DynamicCache(config=self.model.config)
        for i, (k, v) in enumerate(layers):
            cache.update(k, v, i)
        rest = torch.tensor([start[n:]], device=self.device)
        full = torch.ones((1, longest), dtype=torch.long, device=self.device)
        pos = torch.arange(n, longest, device=self.device).unsqueeze(0)
        self._forward(rest, full, pos, cache)
        filled: list[Any] = list(cache.layers)
        stored = [(layer.keys, layer.values) for layer in filled]
        self.prefixes.put(start, stored)
        return longest, stored

    def _step(self) -> None:
        """Sample one token per row, hand them out, drop finished rows, run the next forward pass."""
        assert self._logits is not None and self._mask is not None and self._pos is not None
        for r, j in enumerate(self._jobs):
            if j.counts and (j.sampling.presence_penalty or j.sampling.frequency_penalty):
                idx = torch.tensor(list(j.counts), device=self.device)
                n = torch.tensor(list(j.counts.values()), dtype=self._logits.dtype, device=self.device)
                self._logits[r, idx] -= j.sampling.frequency_penalty * n + j.sampling.presence_penalty
        greedy = self._logits.argmax(-1).tolist()  # one op for every greedy row
        tokens = [
            int(greedy[r]) if j.sampling.greedy else _pick(self._logits[r], j.sampling, j.generator)
            for r, j in enumerate(self._jobs)
        ]
        keep: list[int] = []
        for r, (job, tok) in enumerate(zip(self._jobs, tokens, strict=True)):
            if job.cancelled.is_set():
                continue
            if tok in self.eos_ids:
                job.out.put(("end", "stop"))
                continue
            job.generated += 1
            job.counts[tok] = job.counts.get(tok, 0) + 1
            job.out.put(tok)
            if job.generated >= job.max_new:
                job.out.put(("end", "length"))
                continue
            keep.append(r)
        if not keep:
            self._jobs, self._cache, self._mask, self._pos, self._logits = [], None, None, None, None
            return
        if len(keep) < len(self._jobs):
            idx = torch.tensor(keep, device=self.device)
            self._cache.batch_select_indices(idx)
            self._mask, self._pos = self._mask[idx], self._pos[idx]
            self._jobs = [self._jobs[r] for r in keep]
            tokens = [tokens[r] for r in keep]
            self._trim_padding()
        ids = torch.tensor(tokens, device=self.device).unsqueeze(1)
        self._mask = torch.cat(
            [self._mask, torch.ones((len(keep), 1), dtype=self._mask.dtype, device=self.device)], 1
        )
        self._logits = self._forward(ids, self._mask, self._pos.unsqueeze(1), self._cache)
        self._pos = self._pos + 1

    def _trim_padding(self) -> None:
        """Drop leading columns no remaining row uses: without this, a batch that keeps admitting
        requests would carry every finished request's history and attention would grow without end."""
        assert self._mask is not None
        used = self._mask.any(0).nonzero()
        first = int(used[0]) if len(used) else 0
        if first == 0:
            return
        self._mask = self._mask[:, first:]
        for layer in self._cache.layers:
            layer.keys = layer.keys[:, :, first:]
            layer.values = layer.values[:, :, first:]


def _plain_kv_cache(model: Any) -> bool:
    """Whether every layer caches plain keys and values for every token: a sliding-window or
    linear-attention layer keeps something else, and a stored start could not be sliced for it."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    return all(type(layer) is DynamicLayer for layer in DynamicCache(config=model.config).layers)


def _left_pad(t: torch.Tensor, width: int, dim: int = 2) -> torch.Tensor:
    missing = width - t.shape[dim]
    if missing <= 0:
        return t
    shape = list(t.shape)
    shape[dim] = missing
    return torch.cat([torch.zeros(shape, dtype=t.dtype, device=t.device), t], dim=dim)


def _pick(logits: torch.Tensor, s: Sampling, generator: torch.Generator | None) -> int:
    """The next token for one sampling row: nucleus sampling at the row's temperature, with its seed."""
    probs = torch.softmax(logits / s.temperature, dim=-1).cpu()
    if s.top_p < 1.0:
        sorted_p, order = torch.sort(probs, descending=True)
        drop = sorted_p.cumsum(-1) - sorted_p > s.top_p
        sorted_p[drop] = 0.0
        probs = torch.zeros_like(probs).scatter_(0, order, sorted_p)
    return int(torch.multinomial(probs, 1, generator=generator))
