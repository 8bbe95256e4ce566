"""What a step input *is*, by content: the digest the cache keys on and the entity lineage names.

A dataset version is named by the content hash the datasets service stored when it was
ingested, so a 100 MB input costs one indexed lookup, not a re-read, and the same rows
registered again under another name or version hash the same. A model version is its base and
adapter digests; an evaluation its id (immutable once completed); a prompt version its stored
content hash; a plain value the sha256 of its canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmloop.services.pipelines.definition import value_type

if TYPE_CHECKING:
    from llmloop.context import Context


@dataclass(frozen=True)
class Resolved:
    """An input pinned: ``ref`` names exactly one version (``dataset:travel@3``)."""

    type: str
    ref: Any
    digest: str
    entity: tuple[str, str] | None = None  # lineage (type, id)


def value_digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def resolve(ctx: Context, value: Any, *, project: str) -> Resolved:
    """Pin ``value`` (a store reference or a plain value) and digest it by content."""
    kind = value_type(value)
    if kind == "value":
        return Resolved("value", value, value_digest(value))
    ref = str(value).partition(":")[2]
    if kind == "dataset":
        from llmloop.services.data.versions import pin

        pinned, version_id, content_hash = pin(ctx, ref=ref, project=project)
        return Resolved(kind, f"dataset:{pinned}", content_hash, ("dataset_version", version_id))
    if kind == "model":
        from llmloop.services.registry.service import get_model_version

        m = get_model_version(ctx, ref=ref, project=project)
        parts = [m.base.kind, m.base.sha256 or m.base.uri, m.adapter_sha256]
        return Resolved(kind, f"model:{m.ref}", value_digest(parts), ("model_version", m.id))
    if kind == "prompt":
        from llmloop.services.prompts.service import get_prompt_version

        p = get_prompt_version(ctx, project=project, ref=ref)
        return Resolved(kind, f"prompt:{p.ref}", p.content_hash, ("prompt_version", p.id))
    from llmloop.services.evaluate.results import get_evaluation

    e = get_evaluation(ctx, evaluation_id=ref)
    return Resolved(kind, f"evaluation:{e.id}", e.id, ("evaluation", e.id))
