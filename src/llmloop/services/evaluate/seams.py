"""The three places evaluation meets other services, one function each.

* ``resolve_dataset`` / ``load_rows``: a suite's dataset (a registered dataset version, via the
  datasets service, or a local JSONL file), pinned to ``NAME@VERSION`` → ``EvalRow`` list.
* ``resolve_prompt`` / ``render_prompts``: rows + the suite's prompt (a registered prompt version,
  via the prompts service, or an inline template / message list) → chat messages per row.
* ``load_generator``: a model reference (via the model registry and its engine), a ``py:`` import
  path, or any callable ``generate(batch_of_messages, **params) -> list[str]`` → a generator.

Everything else in ``llmloop.services.evaluate`` works on plain values. The other services are
imported plainly, inside the functions that use them (they import evaluation back), so mypy sees
every cross-service call.
"""

from __future__ import annotations

import hashlib
import json
import random
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmloop.context import Context
from llmloop.errors import InvalidInput, LlmloopError, NotFound
from llmloop.plugins import load_attribute
from llmloop.services.data import formats, kinds
from llmloop.services.evaluate.generation import Completion, Generator, Messages
from llmloop.services.evaluate.suite import DatasetSource, FewShot, FieldMap, PromptSource, Suite

REFERENCE_FIELDS = ("reference", "references", "answer", "completion", "output", "target")
PROMPT_FIELDS = ("prompt", "input", "question")


@dataclass
class EvalRow:
    """One example: a stable id, template variables, optional chat messages, references, metadata."""

    id: str
    variables: dict[str, Any]
    reference: list[str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    messages: Messages | None = None


@dataclass
class LoadedModel:
    """A generator plus what to record about where it came from."""

    ref: str
    generate: Generator
    version_id: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


# --- rows ---------------------------------------------------------------------------------------


def _references(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise InvalidInput(
        f"{where}: the reference must be a string or a non-empty list of strings", details={"where": where}
    )


def _messages(value: Any, where: str) -> Messages:
    if not isinstance(value, list) or not value:
        raise InvalidInput(f"{where}: 'messages' must be a non-empty list", details={"where": where})
    out: Messages = []
    for i, m in enumerate(value):
        if (
            not isinstance(m, dict)
            or not isinstance(m.get("role"), str)
            or not isinstance(m.get("content"), str)
        ):
            raise InvalidInput(
                f"{where}: messages[{i}] needs string 'role' and 'content'", details={"where": where}
            )
        out.append({"role": m["role"], "content": m["content"]})
    return out


def _content_id(variables: Mapping[str, Any], messages: Messages | None) -> str:
    body = json.dumps({"v": variables, "m": messages}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _preference_record(record: Mapping[str, Any], fields: FieldMap, *, where: str) -> dict[str, Any]:
    """A preference pair read as a chat to answer: its prompt turns, and the chosen answer as reference."""
    try:
        prompt, chosen, _ = kinds.preference_turns(record)
    except kinds.RowError as e:
        raise InvalidInput(f"{where}: {e.message}", details={"where": where, "field": e.field}) from e
    out = {k: v for k, v in record.items() if k not in kinds.FIELDS["preference"]}
    out[fields.messages] = prompt
    if fields.reference is None:
        out["reference"] = chosen[-1]["content"]
    return out


def row_from_record(
    record: Mapping[str, Any], fields: FieldMap, *, where: str, registered: bool = False
) -> EvalRow:
    """A dataset record → EvalRow; the id is the record's id field, else a hash of its content.

    A ``registered`` row (from the datasets service) kept its file's extra fields in metadata; they
    are its template variables too, as they were in the file.
    """
    if not isinstance(record, Mapping):
        raise InvalidInput(f"{where}: a row must be a JSON object", details={"where": where})
    if fields.messages not in record and kinds.detect_kind(record) == "preference":
        record = _preference_record(record, fields, where=where)
    ref_field = fields.reference or next((f for f in REFERENCE_FIELDS if f in record), None)
    reference = None
    if ref_field is not None and record.get(ref_field) is not None:
        reference = _references(record[ref_field], f"{where} field {ref_field!r}")
    metadata = record.get(fields.metadata) or {}
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError as e:
            raise InvalidInput(f"{where}: metadata is not a JSON object", details={"where": where}) from e
    if not isinstance(metadata, dict):
        raise InvalidInput(f"{where}: metadata must be an object", details={"where": where})
    messages = None
    if record.get(fields.messages) is not None:
        messages = _messages(record[fields.messages], where)
        if reference is None and messages[-1]["role"] == "assistant":
            reference = [messages[-1]["content"]]
        if messages[-1]["role"] == "assistant":
            messages = messages[:-1]
    skip = {fields.id, fields.metadata, fields.messages, ref_field}
    variables = {k: v for k, v in record.items() if k not in skip}
    raw_id = record.get(fields.id)
    if raw_id is None and isinstance(metadata, dict):  # registered datasets keep extra fields in metadata
        raw_id = metadata.get(fields.id)
    row_id = str(raw_id) if raw_id is not None else _content_id(variables, messages)
    if registered:  # fields of the row itself win
        variables = {**{k: v for k, v in metadata.items() if k != fields.id}, **variables}
    return EvalRow(id=row_id, variables=variables, reference=reference, metadata=metadata, messages=messages)


def _dedupe_ids(rows: list[EvalRow]) -> list[EvalRow]:
    seen: dict[str, int] = {}
    for row in rows:
        n = seen.get(row.id, 0)
        seen[row.id] = n + 1
        if n:
            row.id = f"{row.id}#{n + 1}"
    return rows


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSONL file, read by the datasets reader (bad lines name FILE:LINE); at least one."""
    out = [record for _, record in formats.read_jsonl(path)]
    if not out:
        raise InvalidInput(f"{path} holds no rows", details={"file": str(path)})
    return out


@dataclass(frozen=True)
class Resolved:
    """A reference pinned to one version (``NAME@VERSION`` and the registry id), or a local path."""

    ref: str
    version_id: str | None = None


def resolve_dataset(ctx: Context, source: DatasetSource | FewShot, *, project: str) -> Resolved:
    """SEAM (datasets, issue 4): pin a dataset reference to ``NAME@VERSION`` before reading it."""
    if source.path is not None:
        return Resolved(source.path)
    assert source.ref is not None
    from llmloop.services.data import service as data

    version = data.get_version(ctx, ref=source.ref, project=project)
    return Resolved(str(version.ref), str(version.id))


def _records_from_registry(
    ctx: Context, *, project: str, ref: str, split: str | None
) -> Iterable[Mapping[str, Any]]:
    """SEAM (datasets, issue 4): rows of a registered dataset version as dicts (metadata as stored)."""
    from llmloop.services.data import service as data

    version = data.get_version(ctx, ref=ref, project=project)
    for batch in data.iter_batches(ctx, version, split=split):
        for record in batch.to_pylist():
            record.pop("split", None)
            yield record


def load_rows(
    ctx: Context, source: DatasetSource | FewShot, *, project: str, base: Suite | None = None
) -> list[EvalRow]:
    """The examples a suite (or its few-shot block) names, in order, with stable ids."""
    if source.path is not None:
        path = base.resolve_path(source.path) if base is not None else Path(source.path)
        records: Iterable[Mapping[str, Any]] = read_jsonl(path)
        where = str(path)
    else:
        assert source.ref is not None
        records = _records_from_registry(ctx, project=project, ref=source.ref, split=source.split)
        where = f"dataset {source.ref}"
    limit = getattr(source, "limit", None)
    rows: list[EvalRow] = []
    for i, record in enumerate(records):
        if limit is not None and i >= limit:
            break
        rows.append(
            row_from_record(
                record, source.fields, where=f"{where} row {i + 1}", registered=source.ref is not None
            )
        )
    if not rows:
        raise InvalidInput(f"{where}: no rows to evaluate", details={"where": where})
    return _dedupe_ids(rows)


def inputs_sha256(rows: Sequence[EvalRow], prompts: Sequence[Messages]) -> str:
    """Identity of what the model is asked and scored against (rows and rendered prompts), so a stored
    evaluation is reused only when data and prompt are exactly the same."""
    h = hashlib.sha256()
    for r, p in zip(rows, prompts, strict=True):
        h.update(json.dumps([r.id, r.reference, r.metadata, p], sort_keys=True, default=str).encode())
        h.update(b"\n")
    return h.hexdigest()


# --- prompts ------------------------------------------------------------------------------------


def fill_template(template: str, variables: Mapping[str, Any], *, where: str) -> str:
    """``str.format``-style ``{field}`` placeholders; a missing field names the row and the field."""
    try:
        return string.Formatter().vformat(template, (), dict(variables))
    except KeyError as e:
        raise InvalidInput(
            f"{where}: the prompt uses {{{e.args[0]}}}, which the row does not have (fields: {', '.join(sorted(variables))})",
            details={"where": where, "field": str(e.args[0])},
        ) from e
    except (IndexError, ValueError) as e:
        raise InvalidInput(
            f"{where}: bad template: {e} (write literal braces as {{{{ and }}}})", details={"where": where}
        ) from e


def _inline_messages(prompt: PromptSource, row: EvalRow) -> Messages:
    where = f"example {row.id}"
    if prompt.template is not None:
        out: Messages = []
        if prompt.system is not None:
            out.append(
                {"role": "system", "content": fill_template(prompt.system, row.variables, where=where)}
            )
        out.append({"role": "user", "content": fill_template(prompt.template, row.variables, where=where)})
        return out
    assert prompt.messages is not None
    return [
        {
            "role": m.get("role", "user"),
            "content": fill_template(m.get("content", ""), row.variables, where=where),
        }
        for m in prompt.messages
    ]


def bare_messages(row: EvalRow) -> Messages:
    if row.messages is not None:
        return list(row.messages)
    for f in PROMPT_FIELDS:
        if isinstance(row.variables.get(f), str):
            return [{"role": "user", "content": row.variables[f]}]
    raise InvalidInput(
        f"example {row.id}: the suite has no prompt and the row has no 'messages' or {'/'.join(PROMPT_FIELDS)} field",
        details={"example": row.id},
    )


def _with_shots(messages: Messages, shots: Sequence[tuple[Messages, str]]) -> Messages:
    """Insert worked examples (user turns + assistant answer) after the leading system messages."""
    head = 0
    while head < len(messages) and messages[head]["role"] in ("system", "developer"):
        head += 1
    shot_turns: Messages = []
    for turns, answer in shots:
        shot_turns.extend(m for m in turns if m["role"] not in ("system", "developer"))
        shot_turns.append({"role": "assistant", "content": answer})
    return [*messages[:head], *shot_turns, *messages[head:]]


def resolve_prompt(ctx: Context, prompt: PromptSource | None, *, project: str) -> Resolved | None:
    """SEAM (prompts, issue 6): pin a prompt reference to ``NAME@VERSION`` before rendering with it."""
    if prompt is None or prompt.ref is None:
        return None
    from llmloop.services.prompts import service

    version = service.get_prompt_version(ctx, project=project, ref=prompt.ref)
    return Resolved(f"{version.name}@{version.version}", str(version.id))


def prompt_renderer(ctx: Context, *, project: str, ref: str) -> Callable[[Mapping[str, Any]], Messages]:
    """SEAM (prompts, issue 6): a registered prompt version as a function of its variables."""
    from llmloop.services.prompts import service

    return service.row_renderer(ctx, project=project, ref=ref)[1]


def _registry_renderer(ctx: Context, *, project: str, ref: str) -> Callable[[EvalRow], Messages]:
    render = prompt_renderer(ctx, project=project, ref=ref)

    def render_row(row: EvalRow) -> Messages:
        try:
            return render(row.variables)
        except LlmloopError as e:
            raise type(e)(f"example {row.id}: {e.message}", details={**e.details, "example": row.id}) from e

    return render_row


def _row_renderer(
    ctx: Context, prompt: PromptSource | None, *, project: str
) -> Callable[[EvalRow], Messages]:
    if prompt is None:
        return bare_messages
    if prompt.ref is not None:
        return _registry_renderer(ctx, project=project, ref=prompt.ref)
    return lambda row: _inline_messages(prompt, row)


def render_prompts(ctx: Context, suite: Suite, rows: Sequence[EvalRow], *, project: str) -> list[Messages]:
    """Chat messages for every row: prompt (registered or inline), then the suite's few-shot block.

    Few-shot examples are drawn once (seeded) from their own rows, rendered with the same prompt,
    and placed after the system messages as user/assistant turns; a row never sees itself.
    """
    render = _row_renderer(ctx, suite.prompt, project=project)
    rendered = [render(r) for r in rows]
    fs = suite.prompt.few_shot if suite.prompt is not None else None
    if fs is None or fs.k == 0:
        return rendered
    pool = load_rows(ctx, fs, project=project, base=suite)
    if any(r.reference is None for r in pool):
        raise InvalidInput(
            "few-shot examples need a reference answer each", details={"key": "prompt.few_shot"}
        )
    picked = random.Random(fs.seed).sample(pool, min(len(pool), fs.k + 1))
    shots = {p.id: (render(p), (p.reference or [""])[0]) for p in picked}
    out: list[Messages] = []
    for row, messages in zip(rows, rendered, strict=True):
        chosen = [shots[p.id] for p in picked if p.id != row.id][: fs.k]
        out.append(_with_shots(messages, chosen))
    return out


# --- models -------------------------------------------------------------------------------------


def _import_path(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise InvalidInput(
            f"py:{spec}: expected py:package.module:attribute", details={"model": f"py:{spec}"}
        )
    try:
        target: Any = load_attribute(module, attr)
    except (ImportError, AttributeError) as e:
        raise NotFound(f"cannot import py:{spec}: {e}", details={"model": f"py:{spec}"}) from e
    if isinstance(target, type):
        target = target()
    if not callable(target):
        raise InvalidInput(f"py:{spec} is not callable", details={"model": f"py:{spec}"})
    return target


def _registry_generator(ctx: Context, *, project: str, ref: str) -> LoadedModel:
    """SEAM (models, issue 5): a registered model version served through the engine interface.

    The reference is resolved once, at the start, and pinned to ``NAME@VERSION``, so an alias moving
    mid-run (``champion``) cannot mix two models in one evaluation. A batch is sent as concurrent
    chat requests: the engines batch concurrent requests themselves (the transformers engine's
    continuous batcher shares every forward pass), and each answer keeps its own latency and usage.
    ``generation.extra.engine`` picks an engine other than the version's default.
    """
    from llmloop.engines import schemas as engine_api
    from llmloop.engines.protocol import GroupChat
    from llmloop.services.registry import inference
    from llmloop.services.registry import service as registry

    version = registry.get_model_version(ctx, ref=ref, project=project)
    pinned = f"{version.name}@{version.version}"

    def generate(batch: list[Messages], /, **params: Any) -> Sequence[Completion]:
        engine = params.get("engine")
        # Resolve and load the engine once per batch, before the clock starts: loading is not answer
        # latency, and each answer need not look the version up and re-verify its files again.
        _, served = inference.engine_for(ctx, model=pinned, project=project, engine=engine)
        asked = {
            "max_tokens": params.get("max_new_tokens"),
            "temperature": params.get("temperature"),
            "top_p": params.get("top_p"),
            "stop": params.get("stop") or None,
            "seed": params.get("seed"),
        }
        fields = {k: v for k, v in asked.items() if v is not None}
        streams: list[Iterator[Any]] | None = None
        start = time.perf_counter()
        if isinstance(served, GroupChat):
            try:  # one group, so the answers do not depend on thread timing; else one by one
                requests = [engine_api.ChatRequest(messages=m, **fields) for m in batch]
                streams = served.chat_group(requests)
            except (LlmloopError, ValueError):
                streams = None

        def one(i: int) -> Completion:
            try:
                if streams is None:
                    started = time.perf_counter()
                    stream = served.chat(engine_api.ChatRequest(messages=batch[i], **fields))
                else:
                    started, stream = start, streams[i]
                result = engine_api.collect_chat(stream)
            except LlmloopError as e:
                return Completion(
                    "",
                    error=f"{type(e).__name__}: {e.message}",
                    latency_ms=(time.perf_counter() - started) * 1000,
                )
            usage = result.usage
            return Completion(
                result.choices[0].message.content,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                latency_ms=(time.perf_counter() - started) * 1000,
            )

        with ThreadPoolExecutor(max_workers=max(1, len(batch)), thread_name_prefix="llmloop-eval") as pool:
            return list(pool.map(one, range(len(batch))))

    return LoadedModel(ref=pinned, generate=generate, version_id=str(version.id), info={"requested": ref})


def load_generator(ctx: Context, model: str | Generator, *, project: str | None = None) -> LoadedModel:
    """A generator for a model reference (``NAME@…``, ``models:NAME@…``), ``py:module:attr``, or a callable."""
    if callable(model) and not isinstance(model, str):
        name = getattr(model, "__name__", None) or type(model).__name__
        return LoadedModel(ref=f"callable:{name}", generate=model)
    if not isinstance(model, str) or not model:
        raise InvalidInput("a model reference is required", details={"field": "model"})
    if model.startswith("py:"):
        return LoadedModel(ref=model, generate=_import_path(model[3:]))
    ref = model.removeprefix("models:")
    return _registry_generator(ctx, project=project or ctx.settings.default_project, ref=ref)
