"""From a registered version to a ``ModelSpec`` an engine can load: every path local and checked.

The base is found where it was registered (the packaged default is found again if its package
moved, recognised by its digest); the adapter is unpacked from the artifact store into a cache
folder keyed by its manifest digest, every file hash-verified on the way out and again when the
folder is reused, so a tampered cache is rebuilt instead of served.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from llmloop.context import Context
from llmloop.engines.spec import ModelSpec, Upstream
from llmloop.errors import DataCorrupted, NotFound, Unavailable
from llmloop.security.upstream import upstream_key
from llmloop.services.registry import default, formats
from llmloop.services.registry.schemas import ModelVersion

DONE = ".complete"


def models_root(ctx: Context) -> Path:
    """The store's folder for model files derived from registered versions (adapters, dequantised bases)."""
    return Path(ctx.settings.home) / "models"


def model_spec(ctx: Context, version: ModelVersion) -> ModelSpec:
    """The ``ModelSpec`` for one version; NotFound when its base files are gone, DataCorrupted when altered."""
    base = _local_base(version)
    adapter = str(unpack_adapter(ctx, version)) if version.adapter is not None else None
    upstream = None
    key_text = (
        f"{version.base.kind}:{version.base.sha256 or version.base.uri}:{version.adapter_sha256 or '-'}"
    )
    if version.upstream is not None:
        u = version.upstream
        key = upstream_key(
            ctx,
            project=version.project,
            url=u.base_url,
            secret=u.api_key_secret,
            env=u.api_key_env,
            owner=version.created_by,
        )
        upstream = Upstream(u.base_url, u.model, key, u.timeout_s, u.max_retries)
        key_text += (  # one engine per store, credential and author: no two versions share a key source
            f":{ctx.settings.resolved_database_url}:{version.project}:{u.api_key_secret or '-'}"
            f":{u.api_key_env or '-'}:{version.created_by}"
        )
    return ModelSpec(
        ref=version.ref,
        key=hashlib.sha256(key_text.encode()).hexdigest()[:32],
        base_kind=version.base.kind,
        base=base,
        base_sha256=version.base.sha256,
        adapter_dir=adapter,
        adapter_name=f"{version.name}-v{version.version}" if adapter else None,
        chat_template=version.chat_template,
        context_length=version.context_length,
        quantization=version.quantization,
        default_engine=version.default_engine,
        upstream=upstream,
        cache_dir=str(models_root(ctx) / "cache"),
    )


def _local_base(version: ModelVersion) -> str:
    kind, uri = version.base.kind, version.base.uri
    if kind == "upstream":
        assert version.upstream is not None
        return version.upstream.model
    if kind == "hub":
        return uri
    path = Path(uri)
    if kind == "hf_dir" and (path / "config.json").is_file():
        return uri
    if kind == "gguf":
        if path.is_file():
            return uri
        moved = _packaged_again(version.base.sha256)
        if moved is not None:
            return str(moved)
    raise NotFound(
        f"{version.ref}: its base {'GGUF file' if kind == 'gguf' else 'model folder'} {uri} is gone "
        "(moved or deleted since registration); register it again from where it is now",
        details={"ref": version.ref, "path": uri},
    )


def _packaged_again(sha256: str | None) -> Path | None:
    """The packaged default GGUF at its current place, if it is the file registered (a reinstalled venv)."""
    try:
        found = default.packaged_gguf()
    except Unavailable:  # not installed: the caller reports the missing file
        return None
    return found if sha256 is not None and formats.sha256_file(found) == sha256 else None


def unpack_adapter(ctx: Context, version: ModelVersion) -> Path:
    """The adapter's files in ``<home>/models/adapters/<digest>``, verified; unpacked once, re-verified on reuse."""
    assert version.adapter is not None
    digest = version.adapter.sha256
    manifest = json.loads(ctx.artifacts.read_bytes(digest))  # verified against its digest as it streams
    files: dict[str, str] = manifest["files"]
    folder = models_root(ctx) / "adapters" / digest
    if (folder / DONE).is_file() and all(
        (folder / n).is_file() and formats.sha256_file(folder / n) == sha for n, sha in files.items()
    ):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{digest[:12]}-"))
    try:
        for name, sha in files.items():
            if "/" in name or name.startswith("."):
                raise DataCorrupted(f"adapter manifest {digest} names an unsafe file {name!r}")
            ctx.artifacts.get_file(sha, work / name)
        (work / DONE).write_text(digest)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(work, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder
