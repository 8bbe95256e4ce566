"""Training rows: resolve a dataset (registry reference or local JSONL), check its kind, shape it for TRL.

Rows are the datasets service's canonical rows whichever way they come: a registered version is
read as stored, and a local file goes through the same row-kind module (``services.data.kinds``)
and JSONL reader as ``llmloop data add``, so a file training accepts is one the registry accepts.
Each method accepts some kinds:

    sft      text, prompt_completion, chat (eval rows become prompt → reference)
    dpo      preference (either TRL form; stored conversational, read back as strings without a chat template)
    distill  prompts from chat, prompt, prompt_completion or eval rows

``_rows_from_registry`` reads a version and ``save_rows`` writes one (for distillation).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from llmloop.context import Context
from llmloop.errors import InvalidInput, NotFound
from llmloop.hashing import unit_hash
from llmloop.services.data import formats, kinds
from llmloop.services.data import service as data
from llmloop.services.data.schemas import DatasetAdd
from llmloop.services.train.config import DatasetSpec

ACCEPTS: dict[str, tuple[kinds.Kind, ...]] = {
    "sft": ("text", "prompt_completion", "chat", "eval"),
    "dpo": ("preference",),
    "distill": ("chat", "prompt", "prompt_completion", "eval"),
}


@dataclass(frozen=True)
class LoadedDataset:
    """Canonical rows of one dataset plus what lineage needs to name it."""

    key: str  # the config key it came from, for error messages: data.train
    source: str  # the pinned reference (travel-sft@3, even when an alias was named) or the path
    kind: kinds.Kind
    rows: list[dict[str, Any]]
    entity_type: str  # lineage: dataset_version | artifact (a local file, stored with the run)
    entity_id: str  # travel-sft@1, or the file's sha256 (= its artifact id)
    path: Path | None = None  # a local file, stored with the run as an input artifact


def load_dataset(
    ctx: Context, spec: DatasetSpec, *, key: str, project: str, max_rows: int | None = None
) -> LoadedDataset:
    """Read every row (datasets for fine-tuning are small; the datasets service streams the big ones)."""
    if spec.ref is not None:
        rows, entity_id, pinned, kind = _rows_from_registry(
            ctx, ref=spec.ref, split=spec.split, project=project, key=key
        )
        rows = rows[:max_rows] if max_rows else rows
        return LoadedDataset(key, pinned, kind, rows, "dataset_version", entity_id)
    assert spec.path is not None
    path = Path(spec.path)
    kind, rows = _rows_from_file(path, key=key, split=spec.split, max_rows=max_rows)
    return LoadedDataset(key, str(path), kind, rows, "artifact", formats.file_digest(path), path)


def _rows_from_file(
    path: Path, *, key: str, split: str | None, max_rows: int | None
) -> tuple[kinds.Kind, list[dict[str, Any]]]:
    """Canonical rows of a local JSONL file (one split of it when asked); errors name FILE:LINE and the key."""
    kind: kinds.Kind | None = None
    rows: list[dict[str, Any]] = []
    try:
        for line, rec in formats.read_jsonl(path):
            if max_rows is not None and len(rows) >= max_rows:
                break
            if split is not None and rec.get("split") != split:
                continue
            rec.pop("split", None)
            try:
                kind = _row_kind(rec, kind)
                rows.append(kinds.canonical_record(kind, rec))
            except kinds.RowError as e:
                details = {"file": str(path), "line": line, "key": key}
                raise InvalidInput(
                    f"{path}:{line}: {e.message}",
                    details={**details, **({"field": e.field} if e.field else {})},
                ) from None
    except InvalidInput as e:  # from the reader: name the config key too (FILE:LINE already says where)
        if "key" in e.details:
            raise
        message = e.message if "line" in e.details else f"{key}: {e.message}"
        raise InvalidInput(message, details={**e.details, "key": key}) from None
    if kind is None:
        what = f"no rows with split {split!r}" if split is not None else "no rows"
        raise InvalidInput(
            f"{key}: {path} holds {what}",
            details={"key": f"{key}.split" if split else key, "file": str(path)},
        )
    return kind, rows


def _row_kind(rec: dict[str, Any], first: kinds.Kind | None) -> kinds.Kind:
    """The record's kind, which must be the first row's."""
    kind = kinds.detect_kind(rec)
    if kind is None and first is None:
        raise kinds.RowError(f"fields {sorted(rec)} match no dataset kind ({', '.join(kinds.KINDS)})")
    if first is not None and kind != first:
        raise kinds.RowError(f"row is not a {first} row like the first one")
    assert kind is not None
    return kind


def require_kind(ds: LoadedDataset, method: str) -> None:
    accepted = ACCEPTS[method]
    if ds.kind not in accepted:
        raise InvalidInput(
            f"{ds.key} ({ds.source}) holds {ds.kind} rows; method {method!r} needs {' or '.join(accepted)} rows",
            details={"key": ds.key, "kind": ds.kind, "method": method},
        )


# ----------------------------------------------------------------------------- shaping for TRL


def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def _assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def _with_system(messages: list[dict[str, Any]], system_prompt: str | None) -> list[dict[str, Any]]:
    if system_prompt and (not messages or messages[0].get("role") != "system"):
        return [{"role": "system", "content": system_prompt}, *messages]
    return messages


def _clean(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]


def prompted(ds: LoadedDataset, render: Callable[[Mapping[str, Any]], list[dict[str, str]]]) -> LoadedDataset:
    """Eval rows rendered through a registered prompt into chats: the text evaluation will ask.

    A row's variables are ``input`` plus the extra fields it kept in metadata; its ``reference`` is
    the assistant turn the model learns.
    """
    if ds.kind != "eval":
        raise InvalidInput(
            f"{ds.key} ({ds.source}) holds {ds.kind} rows; data.prompt renders eval rows "
            "(input, reference and the prompt's variables)",
            details={"key": "data.prompt", "kind": ds.kind},
        )
    chats = []
    for row in ds.rows:
        meta = json.loads(row["metadata"]) if row.get("metadata") else {}
        messages = [*render({**meta, "input": row["input"]}), _assistant(row["reference"])]
        chats.append({"messages": messages, "metadata": row.get("metadata")})
    return replace(ds, kind="chat", rows=chats)


def sft_rows(
    ds: LoadedDataset, *, chat: bool, system_prompt: str | None, answer_only: bool
) -> list[dict[str, Any]]:
    """Rows in TRL's SFT format.

    With a chat template (``chat``), string prompts become user/assistant messages so the model
    sees the format it will be served with. ``answer_only`` keeps the loss on answers: each chat's
    assistant turns become prompt → completion pairs (every assistant turn is trained once, on its
    own tokens), which works with any chat template, not only those with generation markers.
    """
    out: list[dict[str, Any]] = []
    for row in ds.rows:
        if ds.kind == "text":
            out.append({"text": row["text"]})
            continue
        if ds.kind == "chat":
            messages = _with_system(_clean(row["messages"]), system_prompt)
        else:
            prompt, answer = (
                (row["prompt"], row["completion"])
                if ds.kind == "prompt_completion"
                else (row["input"], row["reference"])
            )
            if not chat:
                out.append(
                    {"prompt": prompt, "completion": answer} if answer_only else {"text": prompt + answer}
                )
                continue
            messages = _with_system([_user(prompt), _assistant(answer)], system_prompt)
        if not chat:
            raise InvalidInput(
                f"{ds.key}: chat rows need a tokenizer with a chat template; the base model has none",
                details={"key": ds.key},
            )
        if not answer_only:
            out.append({"messages": messages})
            continue
        turns = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
        if not turns:
            raise InvalidInput(
                f"{ds.key}: a chat row has no assistant message to learn from", details={"key": ds.key}
            )
        out.extend({"prompt": messages[:i], "completion": [messages[i]]} for i in turns)
    return out


def _as_text(messages: list[dict[str, Any]], role: str) -> str | None:
    """The text of a conversation that is one message in ``role`` (TRL's standard form), else None."""
    if len(messages) == 1 and messages[0]["role"] == role:
        return str(messages[0]["content"])
    return None


def preference_rows(ds: LoadedDataset, *, chat: bool, system_prompt: str | None) -> list[dict[str, Any]]:
    """Rows in TRL's DPO format: conversational with a chat template, standard (strings) without one.

    Stored pairs are conversational; without a chat template a pair of one user prompt and one
    answer each is exactly the standard form it may have been written in, and anything longer
    needs a template to become text.
    """
    out: list[dict[str, Any]] = []
    for i, row in enumerate(ds.rows):
        prompt, chosen, rejected = _clean(row["prompt"]), _clean(row["chosen"]), _clean(row["rejected"])
        if chat:
            out.append(
                {"prompt": _with_system(prompt, system_prompt), "chosen": chosen, "rejected": rejected}
            )
            continue
        texts = (_as_text(prompt, "user"), _as_text(chosen, "assistant"), _as_text(rejected, "assistant"))
        if None in texts:
            raise InvalidInput(
                f"{ds.key} row {i + 1}: a multi-turn preference pair needs a tokenizer with a chat "
                "template; the base model has none",
                details={"key": ds.key, "row": i + 1},
            )
        out.append(dict(zip(("prompt", "chosen", "rejected"), texts, strict=True)))
    return out


def prompt_messages(ds: LoadedDataset, *, system_prompt: str | None) -> list[list[dict[str, str]]]:
    """The prompt of each row as chat messages (for a teacher to answer)."""
    out: list[list[dict[str, str]]] = []
    for row in ds.rows:
        if ds.kind == "chat":
            messages = _clean(row["messages"])
            while messages and messages[-1]["role"] == "assistant":
                messages.pop()
        else:
            messages = [_user(row["input"] if ds.kind == "eval" else row["prompt"])]
        if not messages:
            raise InvalidInput(
                f"{ds.key}: a row has no prompt left after removing answers", details={"key": ds.key}
            )
        out.append(_with_system(messages, system_prompt))
    return out


def split_eval(
    rows: list[dict[str, Any]], fraction: float, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, eval) by a seeded hash of each row: stable when rows are added, independent of order."""
    train: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    for row in rows:
        body = json.dumps({k: v for k, v in row.items() if not k.startswith("_")}, sort_keys=True)
        (held if unit_hash(f"{seed}:{body}") < fraction else train).append(row)
    if not held or not train:
        raise InvalidInput(
            f"data.eval_fraction {fraction} leaves {'no eval' if not held else 'no training'} rows out of {len(rows)}",
            details={"key": "data.eval_fraction"},
        )
    return train, held


# ----------------------------------------------------------------------------- the datasets service


def _rows_from_registry(
    ctx: Context, *, ref: str, split: str | None, project: str, key: str
) -> tuple[list[dict[str, Any]], str, str, kinds.Kind]:
    """Rows of a registered version, its lineage id, its pinned ``NAME@V`` and its kind.

    ``get_version`` pins an alias (``travel-sft@champion``) to one version before reading, so a
    moving alias cannot mix two versions in one training; rows come from ``iter_batches``
    (canonical rows: the kind's fields, ``metadata`` and ``split``).
    """
    try:
        version = data.get_version(ctx, ref=ref, project=project)
        rows = [row for batch in data.iter_batches(ctx, version, split=split) for row in batch.to_pylist()]
    except NotFound as e:
        raise NotFound(f"{key}: {e.message}", details={**e.details, "key": key}) from e
    for row in rows:
        row.pop("split", None)
    if not rows:
        raise InvalidInput(
            f"{key}: dataset {ref!r} has no rows{f' in split {split!r}' if split else ''}",
            details={"key": key},
        )
    return rows, str(version.id), str(version.ref), version.kind


@dataclass(frozen=True)
class SavedDataset:
    entity_type: str  # dataset_version
    entity_id: str  # the version's id
    label: str  # NAME@VERSION
    path: Path  # the JSONL on local disk (what SFT then reads)


def save_rows(
    ctx: Context, *, name: str, project: str, rows: Iterable[dict[str, Any]], folder: Path
) -> SavedDataset:
    """Write rows as JSONL, then register them as a chat dataset version."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.jsonl"
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
    spec = DatasetAdd(
        name=name,
        path=str(path),
        project=project,
        kind="chat",
        description="answers of a distillation teacher",
    )
    version = data.add_version(ctx, spec=spec).version
    return SavedDataset("dataset_version", str(version.id), str(version.ref), path)
