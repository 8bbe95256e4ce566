"""The teacher of a distillation: anything that answers a batch of chat prompts with texts.

    Teacher = Callable[[list[list[message]]], list[str]]

Resolution order (``resolve_teacher``):
1. a callable passed by the caller (``ll.train(config, teacher=fn)``), named by ``distill.teacher``;
2. the engine interface (``llmloop.engines``), when installed: any registered model or upstream —
   the seam is ``_engine_teacher``, the only place training touches engines;
3. a local Hugging Face folder, answered with batched ``generate`` (``LocalGenerateTeacher``):
   enough for a small teacher on this machine until the engines are wired in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmloop.context import Context
from llmloop.errors import InvalidInput, Unavailable
from llmloop.train.config import DistillSection

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
    engine = _engine_teacher(ctx, spec, project=project)
    if engine is not None:
        return engine
    path = Path(spec.teacher)
    if (path / "config.json").is_file():
        fingerprint = hashlib.sha256(str(path.resolve()).encode()).hexdigest()
        return ResolvedTeacher(LocalGenerateTeacher(path, spec), "model_dir", fingerprint)
    raise Unavailable(
        f"distill.teacher {spec.teacher!r}: no engine can answer it here (llmloop.engines is not installed and it "
        "is not a local model folder); pass a callable: ll.train(config, teacher=fn)",
        details={"key": "distill.teacher"},
    )


def _engine_teacher(ctx: Context, spec: DistillSection, *, project: str) -> ResolvedTeacher | None:
    """Seam to the engine interface: ``llmloop.engines.batch_chat_for_model(ctx, model=..., engine=..., project=...)``.

    Expected to return ``(answer, version_id)`` where ``answer(list_of_message_lists, max_tokens=,
    temperature=) -> list[str]`` batches the prompts through the engine (continuous batching or
    llama.cpp) and ``version_id`` is the teacher's ``name@version``. The lead points this at the
    engines' real entry point after merging; returning None falls back to the options above.
    """
    try:
        import llmloop.engines as engines  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    factory = getattr(engines, "batch_chat_for_model", None)
    if factory is None:
        return None
    answer, version_id = factory(ctx, model=spec.teacher, engine=spec.engine, project=project)

    def call(prompts: list[Messages]) -> list[str]:
        return list(answer(prompts, max_tokens=spec.max_new_tokens, temperature=spec.temperature))

    return ResolvedTeacher(call, "model_version", str(version_id))


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
