"""The transformers engine: a causal LM (plus an optional LoRA adapter) on CPU or GPU, batching concurrent requests.

Weights come from an HF folder, a GGUF (dequantised once into a cached folder, see
``weights``) or a hub id. A LoRA adapter is loaded with PEFT and merged, so serving it costs
nothing extra; an adapter built for another base is ``InvalidInput`` naming both. With
``quantization="int8-dynamic"`` the Linear layers are quantised to int8 after loading (CPU).
Generation goes through the ``Batcher`` thread: every request, streamed or not, becomes a row
of a shared batch; this module turns its token ids into text with stop sequences applied.

Options read from ``ModelSpec.options``: ``device`` (cpu, cuda, cuda:1; default cuda when
available), ``dtype`` (float32, bfloat16, float16; default bfloat16 on GPU and on CPUs with native bf16
arithmetic, else float32),
``max_batch`` (rows decoded together, default 32), ``share_prefixes`` (reuse the KV cache of a prompt
start that concurrent requests share, default true; see ``batcher``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from llmloop.engines.batcher import Batcher, Job
from llmloop.engines.generation import Piece, chat_chunks, completion_chunks, fit_context, text_pieces
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
from llmloop.engines.weights import check_gguf, gguf_to_hf_dir, load_tokenizer, model_cache_root
from llmloop.errors import InvalidInput, NotFound, Unavailable

REQUEST_TIMEOUT_S = 600.0  # no request waits longer than this for its next token
_DTYPES = ("float32", "bfloat16", "float16")


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX): then bf16 is ~1.6x faster than fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def default_dtype(device: str) -> str:
    return "bfloat16" if device.startswith("cuda") or cpu_has_bf16() else "float32"


def hf_folder(spec: ModelSpec) -> Path | str:
    """The local HF folder (or hub id) holding the base weights of ``spec``; GGUF is dequantised once."""
    if spec.base_kind == "hf_dir":
        p = Path(spec.base).expanduser()
        if not (p / "config.json").is_file():
            raise NotFound(f"{spec.ref}: model folder {p} has no config.json", details={"path": str(p)})
        return p
    if spec.base_kind == "gguf":
        digest = check_gguf(spec.base, spec.base_sha256)
        return gguf_to_hf_dir(spec.base, digest, model_cache_root(spec.cache_dir))
    if spec.base_kind == "hub":
        return spec.base
    raise InvalidInput(
        f"{spec.ref} is served by an upstream; use the openai or vllm engine", details={"model": spec.ref}
    )


def attach_adapter(model: Any, adapter_dir: str | Path, *, merge: bool = True) -> Any:
    """``model`` with the PEFT LoRA in ``adapter_dir`` applied (merged by default); a misfit is InvalidInput."""
    path = Path(adapter_dir).expanduser()
    if not (path / "adapter_config.json").is_file():
        raise NotFound(f"adapter folder {path} has no adapter_config.json", details={"path": str(path)})
    from peft import PeftModel

    try:
        peft_model = PeftModel.from_pretrained(model, str(path))
    except (RuntimeError, ValueError, KeyError) as e:
        base = getattr(model.config, "_name_or_path", "") or type(model).__name__
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise InvalidInput(
            f"adapter {path} does not fit base model {base}: it was trained on a different base ({first})",
            details={"adapter": str(path)},
        ) from None
    return peft_model.merge_and_unload() if merge else peft_model


def load_causal_lm(spec: ModelSpec, *, device: str = "cpu", dtype: str = "float32") -> tuple[Any, Any]:
    """(model in eval mode, tokenizer) for ``spec``: base, adapter merged, int8 when asked."""
    import torch
    from transformers import AutoModelForCausalLM

    folder = hf_folder(spec)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=getattr(torch, dtype))
        tokenizer = load_tokenizer(folder)
    except OSError as e:
        raise Unavailable(f"{spec.ref}: cannot load weights from {folder}: {str(e)[:300]}") from None
    if spec.adapter_dir:
        model = attach_adapter(model, spec.adapter_dir)
    if spec.chat_template:
        tokenizer.chat_template = spec.chat_template
    model = model.to(device).eval()  # type: ignore[arg-type]  # a device string, which .to accepts
    if spec.quantization == "int8-dynamic":
        if device != "cpu":
            raise InvalidInput(
                f"{spec.ref}: int8-dynamic quantization runs on CPU only", details={"model": spec.ref}
            )
        from llmloop.engines.compress import quantize_int8

        model = quantize_int8(model)
    return model, tokenizer


class TransformersEngine:
    kind = "transformers"

    def __init__(self, spec: ModelSpec) -> None:
        import torch

        opts = spec.options
        device = opts.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = opts.get("dtype") or default_dtype(device)
        if dtype not in _DTYPES:
            raise InvalidInput(
                f"options.dtype must be one of {', '.join(_DTYPES)}", details={"key": "options.dtype"}
            )
        self.spec = spec
        self.model = spec.ref
        self.device = device
        self._lm, self.tokenizer = load_causal_lm(spec, device=device, dtype=dtype)
        # A fast tokenizer's padding/truncation settings are shared Rust state: encode under a lock
        # ("Already borrowed" otherwise when embeddings and chats tokenise at once).
        self._tok_lock = threading.Lock()
        cfg = self._lm.config
        self.context_length: int = spec.context_length or int(getattr(cfg, "max_position_embeddings", 2048))
        eos = getattr(self._lm.generation_config, "eos_token_id", None) or self.tokenizer.eos_token_id
        eos_ids = {int(e) for e in (eos if isinstance(eos, list) else [eos]) if e is not None}
        self._batcher = Batcher(
            self._lm,
            eos_ids=eos_ids,
            pad_id=int(self.tokenizer.pad_token_id),
            max_batch=int(opts.get("max_batch", 32)),
            share_prefixes=bool(opts.get("share_prefixes", True)),
        )
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise closed(self.model)

    # ------------------------------------------------------------ text in, tokens out

    def chat_prompt_ids(self, request: ChatRequest) -> list[int]:
        self._check_open()
        if not self.tokenizer.chat_template:
            raise InvalidInput(
                f"{self.model} has no chat template; use text completions or register one",
                details={"model": self.model},
            )
        with self._tok_lock:
            text = self.tokenizer.apply_chat_template(
                request.message_dicts(), add_generation_prompt=True, tokenize=False
            )
            return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    def chat(self, request: ChatRequest) -> Iterator[ChatCompletionChunk]:
        return chat_chunks(self.model, self._generate(self.chat_prompt_ids(request), request.sampling()))

    def chat_group(self, requests: Sequence[ChatRequest]) -> list[Iterator[ChatCompletionChunk]]:
        """``chat`` for every request, submitted as one group (``Batcher.submit_group``): evaluation
        asks this so that its answers do not depend on thread timing. Raises before submitting
        anything when any request is invalid; the caller can then ask them one by one."""
        jobs = self._batcher.submit_group(
            [self._job(self.chat_prompt_ids(r), r.sampling()) for r in requests]
        )
        return [chat_chunks(self.model, self._pieces(job, len(job.ids))) for job in jobs]

    def complete(self, request: CompletionRequest) -> Iterator[TextCompletionChunk]:
        self._check_open()
        with self._tok_lock:
            ids = list(self.tokenizer(request.prompt_text()).input_ids)
        return completion_chunks(self.model, self._generate(ids, request.sampling()))

    def _generate(self, ids: list[int], sampling: Sampling) -> Iterator[Piece]:
        """Submits now (so errors and queueing start at call time); the iterator streams the answer."""
        job = self._batcher.submit(self._job(ids, sampling))
        return self._pieces(job, len(job.ids))

    def _job(self, ids: list[int], sampling: Sampling) -> Job:
        """A batcher job for a prompt: cut to the context (or refused) and given its token budget."""
        ids, budget = fit_context(ids, sampling, self.context_length)
        return Job(ids=ids, max_new=budget, sampling=sampling)

    def _pieces(self, job: Job, prompt_tokens: int) -> Iterator[Piece]:
        def events() -> Iterator[int | tuple[str, str]]:
            while True:
                try:
                    item = job.out.get(timeout=REQUEST_TIMEOUT_S)
                except queue.Empty:
                    raise Unavailable(f"{self.model}: no token within {REQUEST_TIMEOUT_S:g} s") from None
                if isinstance(item, BaseException):
                    raise Unavailable(f"{self.model}: generation failed ({type(item).__name__}: {item})")
                yield item
                if isinstance(item, tuple):
                    return

        def decode(ids: list[int]) -> str:
            return str(self.tokenizer.decode(ids, skip_special_tokens=True))

        try:
            yield from text_pieces(events(), decode, job.sampling.stop, prompt_tokens)
        finally:
            job.cancelled.set()

    # ------------------------------------------------------------ embeddings

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Mean-pooled, L2-normalised last hidden states (a causal LM's embeddings: usable, not tuned)."""
        import torch

        self._check_open()
        texts = request.inputs()
        with self._tok_lock:
            enc = self.tokenizer(
                texts, padding=True, truncation=True, max_length=self.context_length, return_tensors="pt"
            ).to(self.device)
        with torch.inference_mode():
            out = self._lm(**enc, output_hidden_states=True, logits_to_keep=1)
        hidden = out.hidden_states[-1].float()
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1), dim=-1)
        if request.dimensions is not None:
            pooled = torch.nn.functional.normalize(pooled[:, : request.dimensions], dim=-1)
        n = int(enc["attention_mask"].sum())
        return EmbeddingResponse(
            data=[Embedding(index=i, embedding=v.tolist()) for i, v in enumerate(pooled.cpu())],
            model=self.model,
            usage=EmbeddingUsage(prompt_tokens=n, total_tokens=n),
        )

    def close(self) -> None:
        self._closed = True
        self._batcher.close()
