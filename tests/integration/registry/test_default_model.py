"""The packaged SmolLM2 GGUF: registered on first use in any project, metadata read without loading weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmloop.errors import InvalidInput, PermissionDenied
from llmloop.security.audit import list_events
from llmloop.security.rbac import Actor
from llmloop.services.registry import loading, service
from llmloop.services.registry.default import DEFAULT_MODEL
from llmloop.services.registry.formats import sha256_file
from llmloop.services.registry.schemas import ModelVersionCreate

pytestmark = pytest.mark.slow  # hashes and parses the real 98 MB GGUF


def test_default_model_registers_itself_once(ctx: Any, smollm2_gguf: Path) -> None:
    viewer = ctx.as_actor(Actor(id="val", roles={"travel": "viewer"}))
    v = service.get_model_version(viewer, ref=DEFAULT_MODEL, project="travel")  # reading needs no write right
    assert v.ref == f"{DEFAULT_MODEL}@1" and v.source == "base"
    assert (v.base.kind, v.architecture, v.quantization) == ("gguf", "llama", "q4_1")
    assert v.parameters == 134_515_008 and v.context_length == 8192 and v.license == "apache-2.0"
    assert v.chat_template is not None and "<|im_start|>" in v.chat_template
    assert v.base.sha256 == sha256_file(smollm2_gguf) and v.default_engine == "llamacpp"
    assert service.get_model_version(ctx, ref=DEFAULT_MODEL, project="travel").id == v.id
    assert service.get_model_version(ctx, ref=f"{DEFAULT_MODEL}@1", project="travel").id == v.id
    assert [e.target for e in list_events(ctx, action="models.register")] == [f"model:{DEFAULT_MODEL}@1"]
    with pytest.raises(PermissionDenied):
        service.register_base(viewer, name="mine", path=str(smollm2_gguf), project="travel")

    spec = loading.model_spec(ctx, v)
    assert (spec.base_kind, Path(spec.base), spec.adapter_dir) == ("gguf", smollm2_gguf.resolve(), None)
    assert spec.base_sha256 == v.base.sha256 and spec.quantization == "q4_1" and spec.context_length == 8192
    assert spec.cache_dir is not None and Path(spec.cache_dir).is_relative_to(Path(ctx.settings.home))


def test_adapter_for_another_base_is_refused_on_the_gguf(ctx: Any, tiny_adapter: Path) -> None:
    service.get_model_version(ctx, ref=DEFAULT_MODEL, project="p")
    with pytest.raises(
        InvalidInput, match=r"different base than smollm2-135m-instruct@1.*input size 64.*576"
    ):
        service.register_model_version(
            ctx,
            spec=ModelVersionCreate(
                project="p", name="x", base_model=DEFAULT_MODEL, adapter_dir=str(tiny_adapter)
            ),
        )


def test_a_moved_packaged_file_is_found_again_by_digest(ctx: Any, smollm2_gguf: Path, tmp_path: Path) -> None:
    import shutil

    copy = shutil.copy(smollm2_gguf, tmp_path / "old-venv.gguf")
    v = service.register_base(ctx, name="smol", path=str(copy), project="p")
    Path(copy).unlink()  # e.g. the virtualenv it was registered from was rebuilt elsewhere
    spec = loading.model_spec(ctx, v)
    assert Path(spec.base) == smollm2_gguf and spec.base_sha256 == v.base.sha256
