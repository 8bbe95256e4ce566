"""Training rows: resolve a dataset (registry reference or local JSONL), check its kind, shape it for TRL.

Kinds are the datasets service's five (``text``, ``prompt_completion``, ``chat``, ``preference``,
``eval``) plus ``prompt`` (prompts alone, for distillation). Each method accepts some of them:

    sft      text, prompt_completion, chat (eval rows become prompt → reference)
    dpo      preference
    distill  prompts from chat, prompt, prompt_completion or eval rows

The datasets seam is in this file only: ``_rows_from_registry`` (read a version) and
``save_rows`` (write one, for distillation). Both import ``llmloop.services.data.service`` lazily, so
training works on local files with or without the datasets service installed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmloop.context import Context
from llmloop.errors import InvalidInput, NotFound
from llmloop.services.train.config import DatasetSpec

KINDS: dict[str, tuple[str, ...]] = {
    "text": ("text",),
    "prompt_completion": ("prompt", "completion"),
    "chat": ("messages",),
    "preference": ("prompt", "chosen", "rejected"),
    "eval": ("input", "reference"),
    "prompt": ("prompt",),
}
ACCEPTS: dict[str, tuple[str, ...]] = {
    "sft": ("text", "prompt_completion", "chat", "eval"),
    "dpo": ("preference",),
    "distill": ("chat", "prompt", "prompt_completion", "eval"),
}
IGNORED_FIELDS = frozenset({"metadata", "split", "id"})
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


@dataclass(frozen=True)
class LoadedDataset:
    """Rows of one dataset plus what lineage needs to name it."""

    key: str  # the config key it came from, for error messages: data.train
    source: str  # the pinned reference (travel-sft@3, even when an alias was named) or the path
    kind: str
    rows: list[dict[str, Any]]
    entity_type: str  # lineage: dataset_version | artifact (a local file, stored with the run)
    entity_id: str  # travel-sft@1, or the file's sha256 (= its artifact id)
    path: Path | None = None  # a local file, stored with the run as an input artifact


def load_dataset(
    ctx: Context, spec: DatasetSpec, *, key: str, project: str, max_rows: int | None = None
) -> LoadedDataset:
    """Read every row (datasets for fine-tuning are small; the datasets service streams the big ones)."""
    if spec.ref is not None:
        rows, entity_id, pinned = _rows_from_registry(
            ctx, ref=spec.ref, split=spec.split, project=project, key=key
        )
        rows = rows[:max_rows] if max_rows else rows
        return LoadedDataset(key, pinned, _check_kind(rows, pinned, key), rows, "dataset_version", entity_id)
    assert spec.path is not None
    path = Path(spec.path)
    rows, sha = read_jsonl(path, key=key, max_rows=max_rows)
    if spec.split is not None:
        rows = [r for r in rows if r.get("split") == spec.split]
        if not rows:
            raise InvalidInput(
                f"{key}: {path} has no rows with split {spec.split!r}", details={"key": f"{key}.split"}
            )
    return LoadedDataset(key, str(path), _check_kind(rows, str(path), key), rows, "artifact", sha, path)


def read_jsonl(path: Path, *, key: str, max_rows: int | None = None) -> tuple[list[dict[str, Any]], str]:
    """Rows of a JSONL file and the sha256 of the whole file; a bad line is an error naming FILE:LINE."""
    if not path.is_file():
        raise InvalidInput(f"{key}: file not found: {path}", details={"key": key, "file": str(path)})
    rows: list[dict[str, Any]] = []
    hasher = hashlib.sha256()
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            hasher.update(raw)
            if max_rows is not None and len(rows) >= max_rows:
                continue
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise InvalidInput(
                    f"{path}:{lineno}: not valid JSON ({e})",
                    details={"file": str(path), "line": lineno, "key": key},
                ) from e
            if not isinstance(row, dict):
                raise InvalidInput(
                    f"{path}:{lineno}: each line must be a JSON object",
                    details={"file": str(path), "line": lineno},
                )
            row["_line"] = lineno
            rows.append(row)
    if not rows:
        raise InvalidInput(f"{key}: {path} holds no rows", details={"key": key, "file": str(path)})
    return rows, hasher.hexdigest()


def detect_kind(row: dict[str, Any]) -> str | None:
    fields = {k for k in row if k not in IGNORED_FIELDS and not k.startswith("_")}
    for kind in ("preference", "prompt_completion", "chat", "eval", "text", "prompt"):
        if set(KINDS[kind]) == fields:
            return kind
    return None


def _where(row: dict[str, Any], source: str, index: int) -> tuple[str, dict[str, Any]]:
    line = row.get("_line")
    if line is not None:
        return f"{source}:{line}", {"file": source, "line": line}
    return f"{source} row {index + 1}", {"file": source, "row": index + 1}


def _check_kind(rows: list[dict[str, Any]], source: str, key: str) -> str:
    """The rows' kind (all rows must share it) after checking every field's type."""
    kind = detect_kind(rows[0])
    if kind is None:
        fields = sorted(k for k in rows[0] if not k.startswith("_"))
        where, details = _where(rows[0], source, 0)
        raise InvalidInput(
            f"{where}: fields {fields} match no dataset kind (text, prompt_completion, chat, preference, eval)",
            details={**details, "key": key},
        )
    for i, row in enumerate(rows):
        if detect_kind(row) != kind:
            where, details = _where(row, source, i)
            raise InvalidInput(
                f"{where}: row is not a {kind} row like the first one", details={**details, "key": key}
            )
        problem = _field_problem(row, kind)
        if problem:
            where, details = _where(row, source, i)
            raise InvalidInput(f"{where}: {problem}", details={**details, "key": key})
    return kind


def _field_problem(row: dict[str, Any], kind: str) -> str | None:
    for field in KINDS[kind]:
        value = row[field]
        if field == "messages" or (
            isinstance(value, list) and kind in ("prompt_completion", "preference", "prompt")
        ):
            problem = _messages_problem(value, field)
            if problem:
                return problem
        elif not isinstance(value, str):
            return f"field {field!r} must be a string, got {type(value).__name__}"
    return None


def _messages_problem(messages: Any, field: str) -> str | None:
    if not isinstance(messages, list) or not messages:
        return f"field {field!r} must be a non-empty list of messages"
    for j, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("content"), str):
            return f"{field}[{j}] must be an object with a string 'content'"
        if m.get("role") not in ROLES:
            return f"{field}[{j}].role {m.get('role')!r} is not one of {sorted(ROLES)}"
    return None


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
            p = _clean(prompt) if isinstance(prompt, list) else [_user(prompt)]
            a = _clean(answer) if isinstance(answer, list) else [_assistant(answer)]
            messages = _with_system(p + a, system_prompt)
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


def preference_rows(ds: LoadedDataset, *, chat: bool, system_prompt: str | None) -> list[dict[str, Any]]:
    """Rows in TRL's DPO format: conversational when the tokenizer has a chat template."""
    out: list[dict[str, Any]] = []
    for row in ds.rows:
        prompt, chosen, rejected = row["prompt"], row["chosen"], row["rejected"]
        if not chat:
            out.append({"prompt": prompt, "chosen": chosen, "rejected": rejected})
            continue
        p = _clean(prompt) if isinstance(prompt, list) else [_user(prompt)]
        out.append(
            {
                "prompt": _with_system(p, system_prompt),
                "chosen": _clean(chosen) if isinstance(chosen, list) else [_assistant(chosen)],
                "rejected": _clean(rejected) if isinstance(rejected, list) else [_assistant(rejected)],
            }
        )
    return out


def prompt_messages(ds: LoadedDataset, *, system_prompt: str | None) -> list[list[dict[str, str]]]:
    """The prompt of each row as chat messages (for a teacher to answer)."""
    out: list[list[dict[str, str]]] = []
    for row in ds.rows:
        if ds.kind == "chat":
            messages = _clean(row["messages"])
            while messages and messages[-1]["role"] == "assistant":
                messages.pop()
        elif ds.kind == "eval":
            messages = [_user(row["input"])]
        else:
            prompt = row["prompt"]
            messages = _clean(prompt) if isinstance(prompt, list) else [_user(prompt)]
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
        h = int.from_bytes(hashlib.sha256(f"{seed}:{body}".encode()).digest()[:8], "big") / 2**64
        (held if h < fraction else train).append(row)
    if not held or not train:
        raise InvalidInput(
            f"data.eval_fraction {fraction} leaves {'no eval' if not held else 'no training'} rows out of {len(rows)}",
            details={"key": "data.eval_fraction"},
        )
    return train, held


# ----------------------------------------------------------------------------- the datasets-service seam


def _rows_from_registry(
    ctx: Context, *, ref: str, split: str | None, project: str, key: str
) -> tuple[list[dict[str, Any]], str, str]:
    """SEAM (datasets, issue 4): rows of a registered version, its lineage id and its pinned ``NAME@V``.

    ``get_version`` pins an alias (``travel-sft@champion``) to one version before reading, so a
    moving alias cannot mix two versions in one training; rows come from ``iter_batches``
    (canonical rows: the kind's fields, ``metadata`` and ``split``).
    """
    from llmloop.services.data import service as data

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
    return rows, str(version.id), str(version.ref)


@dataclass(frozen=True)
class SavedDataset:
    entity_type: str  # dataset_version
    entity_id: str  # the version's id
    label: str  # NAME@VERSION
    path: Path  # the JSONL on local disk (what SFT then reads)


def save_rows(
    ctx: Context, *, name: str, project: str, rows: Iterable[dict[str, Any]], folder: Path
) -> SavedDataset:
    """Write rows as JSONL, then register them as a dataset version.

    SEAM (datasets, issue 4): ``add_version(ctx, spec=DatasetAdd(name=, path=, project=, kind="chat"))``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.jsonl"
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
    from llmloop.services.data import service as data
    from llmloop.services.data.schemas import DatasetAdd

    spec = DatasetAdd(
        name=name,
        path=str(path),
        project=project,
        kind="chat",
        description="answers of a distillation teacher",
    )
    version = data.add_version(ctx, spec=spec).version
    return SavedDataset("dataset_version", str(version.id), str(version.ref), path)
