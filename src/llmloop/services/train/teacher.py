"""The teacher of a distillation: anything that answers a batch of chat prompts with texts.

    Teacher = Callable[[list[list[message]]], list[str]]

Resolution order (``resolve_teacher``):
1. a callable passed by the caller (``ll.train(config, teacher=fn)``), named by ``distill.teacher``;
2. a local Hugging Face folder, answered with left-padded batched ``generate`` (``LocalGenerateTeacher``);
3. a registered model or upstream through the engine interface (``llmloop.services.registry.inference``):
   ``_engine_teacher``, the only place training touches engines.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmloop.context import Context
from llmloop.errors import InvalidInput
from llmloop.services.train.config import DistillSection

Messages = list[dict[str, str]]
Teacher = Callable[[list[Messages]], list[str]]


@dataclass(frozen=True)
class ResolvedTeacher:
    answer: Teacher
    entity_type: str  # lineage: model_version | model_dir | callable
    entity_id: str


def resolve_teacher(
    ctx: Context, spec: DistillSection, *, given: Teacher | None, project: str
) -> ResolvedTeacher:
    if given is not None:
        if not callable(given):
            raise InvalidInput(
                "teacher must be callable: prompts (lists of messages) -> answers",
                details={"key": "distill.teacher"},
            )
        return ResolvedTeacher(given, "callable", spec.teacher[:64])
    path = Path(spec.teacher)
    if (path / "config.json").is_file():
        fingerprint = hashlib.sha256(str(path.resolve()).encode()).hexdigest()
        return ResolvedTeacher(LocalGenerateTeacher(path, spec), "model_dir", fingerprint)
    return _engine_teacher(ctx, spec, project=project)


def _engine_teacher(ctx: Context, spec: DistillSection, *, project: str) -> ResolvedTeacher:
    """SEAM (models, issue 5): a registered model (or an upstream) answering through the engine interface.

    The reference is pinned to one version first. A batch goes out as concurrent chat requests:
    the engines batch concurrent requests themselves (the transformers engine's continuous
    batcher shares every forward pass; llama.cpp and upstreams take them in parallel), which is
    the batched generation distillation needs.
    """
    from llmloop.engines import schemas as engine_api
    from llmloop.services.registry import inference
    from llmloop.services.registry import service as registry

    version = registry.get_model_version(ctx, ref=spec.teacher, project=project)
    pinned = str(version.ref)

    def answer(prompts: list[Messages]) -> list[str]:
        # One lookup per batch: each answer need not pin the version and re-verify its files again.
        _, served = inference.engine_for(ctx, model=pinned, project=project, engine=spec.engine)

        def one(messages: Messages) -> str:
            request = engine_api.ChatRequest(
                messages=messages, max_tokens=spec.max_new_tokens, temperature=spec.temperature, seed=0
            )
            return str(engine_api.collect_chat(served.chat(request)).choices[0].message.content or "")

        with ThreadPoolExecutor(
            max_workers=max(1, len(prompts)), thread_name_prefix="llmloop-teacher"
        ) as pool:
            return list(pool.map(one, prompts))

    return ResolvedTeacher(answer, "model_version", str(version.id))


class LocalGenerateTeacher:
    """A local transformers model answering a batch with left-padded ``generate`` (greedy unless temperature > 0)."""

    def __init__(self, path: Path, spec: DistillSection) -> None:
        self.path = path
        self.spec = spec
        self._model: Any = None
        self._tok: Any = None

    def _load(self) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._tok = AutoTokenizer.from_pretrained(str(self.path), padding_side="left")
        if self._tok.pad_token is None:
            self._tok.pad_token = self._tok.eos_token
        self._model = AutoModelForCausalLM.from_pretrained(str(self.path)).eval()  # type: ignore[no-untyped-call]

    def __call__(self, prompts: list[Messages]) -> list[str]:
        import torch

        if self._model is None:
            self._load()
        texts = [
            self._tok.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts
        ]
        batch = self._tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        sample = self.spec.temperature > 0
        with torch.inference_mode():
            out = self._model.generate(
                **batch,
                max_new_tokens=self.spec.max_new_tokens,
                do_sample=sample,
                temperature=self.spec.temperature if sample else None,
                top_p=None,
                top_k=None,
                pad_token_id=self._tok.pad_token_id,
            )
        new = out[:, batch["input_ids"].shape[1] :]
        return [str(t).strip() for t in self._tok.batch_decode(new, skip_special_tokens=True)]
