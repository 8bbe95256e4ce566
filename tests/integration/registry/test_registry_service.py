"""The models service on SQLite and PostgreSQL: register, resolve, promote behind gates, lineage, cards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from llmloop.errors import Conflict, InvalidInput, NotFound
from llmloop.services.registry import card, loading, service
from llmloop.services.registry.lineage import model_lineage
from llmloop.services.registry.schemas import EntityRef, GateResult, ModelVersionCreate
from llmloop.services.tracking import service as tracking
from llmloop.services.tracking.schemas import MetricPoint, RunBatch, RunCreate
from llmloop.store.tables.models import ModelAliasEventRow, ModelVersionRow


def _count(ctx: Any) -> int:
    with ctx.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(ModelVersionRow)) or 0)


def test_register_folder_and_adapter_then_resolve(ctx: Any, tiny_base: Path, tiny_adapter: Path) -> None:
    base = service.register_base(ctx, name="tiny", path=str(tiny_base), project="p")
    assert (base.ref, base.base.kind, base.architecture) == ("tiny@1", "hf_dir", "llama")
    assert base.parameters is not None and base.parameters > 10_000
    assert base.default_engine == "transformers" and base.context_length == 256
    again = service.register_base(ctx, name="tiny", path=str(tiny_base), project="p")
    assert again.id == base.id  # the same content is found, not registered twice

    ft = service.register_model_version(
        ctx,
        spec=ModelVersionCreate(
            project="p", name="tiny-ft", base_model="tiny", adapter_dir=str(tiny_adapter)
        ),
    )
    assert ft.ref == "tiny-ft@1" and ft.base.version == "tiny@1" and ft.base.sha256 == base.base.sha256
    assert (
        ft.adapter is not None and ft.adapter.rank == 4 and ft.adapter.target_modules == ["q_proj", "v_proj"]
    )
    assert set(ft.adapter.files) >= {"adapter_config.json", "adapter_model.safetensors"}
    assert all(ctx.artifacts.exists(sha) for sha in ft.adapter.files.values())
    assert service.get_model_version(ctx, ref="tiny-ft", project="p").id == ft.id
    assert service.get_model_version(ctx, ref="tiny-ft@1", project="p").id == ft.id

    spec = loading.model_spec(ctx, ft)
    assert spec.base_kind == "hf_dir" and Path(spec.base) == tiny_base.resolve()
    assert spec.adapter_dir is not None
    unpacked = Path(spec.adapter_dir)
    assert (unpacked / "adapter_model.safetensors").read_bytes() == (
        tiny_adapter / "adapter_model.safetensors"
    ).read_bytes()
    assert spec.key != loading.model_spec(ctx, base).key and spec.default_engine == "transformers"
    (unpacked / "adapter_model.safetensors").write_bytes(b"tampered")
    again_spec = loading.model_spec(ctx, ft)  # a tampered cache is rebuilt from the store, not served
    assert (Path(again_spec.adapter_dir or "") / "adapter_model.safetensors").read_bytes() == (
        tiny_adapter / "adapter_model.safetensors"
    ).read_bytes()


def test_bad_inputs_register_nothing(
    ctx: Any, tiny_base: Path, other_adapter: Path, tmp_path: Path, tiny_adapter: Path
) -> None:
    service.register_base(ctx, name="tiny", path=str(tiny_base), project="p")
    before = _count(ctx)
    with pytest.raises(NotFound, match="not found in project"):
        service.get_model_version(ctx, ref="nope", project="p")
    with pytest.raises(NotFound, match="alias tiny@champion"):
        service.get_model_version(ctx, ref="tiny@champion", project="p")
    with pytest.raises(NotFound, match="GGUF file not found"):
        service.register_base(ctx, name="x", path=str(tmp_path / "missing.gguf"), project="p")
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"PK\x03\x04 not a gguf at all")
    with pytest.raises(InvalidInput, match="not a GGUF file"):
        service.register_base(ctx, name="x", path=str(fake), project="p")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput, match=r"no config\.json"):
        service.register_base(ctx, name="x", path=str(tmp_path / "empty"), project="p")
    with pytest.raises(InvalidInput, match="different base than tiny@1"):
        service.register_model_version(
            ctx,
            spec=ModelVersionCreate(
                project="p", name="bad", base_model="tiny", adapter_dir=str(other_adapter)
            ),
        )
    with pytest.raises(InvalidInput, match="not a PEFT adapter folder"):
        service.register_model_version(
            ctx,
            spec=ModelVersionCreate(project="p", name="bad", base_model="tiny", adapter_dir=str(tiny_base)),
        )
    with pytest.raises(NotFound, match="run 'missing'"):
        service.register_model_version(
            ctx,
            spec=ModelVersionCreate(
                project="p", name="bad", base_model="tiny", adapter_dir=str(tiny_adapter), run_id="missing"
            ),
        )
    assert _count(ctx) == before


def test_promotion_gates_history_and_audit(ctx: Any, tiny_base: Path) -> None:
    from llmloop.security.audit import list_events

    v1 = service.register_base(ctx, name="tiny", path=str(tiny_base), project="p")
    v2 = service.register_model_version(
        ctx, spec=ModelVersionCreate(project="p", name="tiny", base=str(tiny_base))
    )
    assert v2.version == 2
    seen: list[str] = []

    def passing(c: Any, version: Any) -> GateResult:
        seen.append(version.ref)
        return GateResult(name="always", passed=True, message="ok")

    def failing(c: Any, version: Any) -> GateResult:
        return GateResult(name="quality", passed=False, message="accuracy 0.2 < 0.6")

    def advisory(c: Any, version: Any) -> GateResult:
        return GateResult(name="advisory", passed=False, required=False, message="slow")

    first = service.promote_model(
        ctx, ref="tiny@1", alias="champion", project="p", gates=[passing], reason="first"
    )
    assert first.promoted and first.previous is None and seen == ["tiny@1"]
    with pytest.raises(Conflict, match=r"quality: accuracy 0\.2 < 0\.6") as err:
        service.promote_model(ctx, ref="tiny@2", alias="champion", project="p", gates=[passing, failing])
    assert [g["name"] for g in err.value.details["gates"]] == ["always", "quality"]
    assert service.get_model_version(ctx, ref="tiny@champion", project="p").id == v1.id  # nothing moved
    moved = service.promote_model(
        ctx, ref="tiny@2", alias="champion", project="p", gates=[advisory], reason="better"
    )
    assert moved.previous == 1 and service.get_model_version(
        ctx, ref="tiny@champion", project="p"
    ).aliases == ["champion"]
    for bad in ("1st", "latest", "has space"):
        with pytest.raises(InvalidInput, match="alias"):
            service.promote_model(ctx, ref="tiny@2", alias=bad, project="p")
    history = service.alias_history(ctx, name="tiny", project="p")
    assert [(e.from_version, e.to_version, e.reason) for e in history] == [
        (1, 2, "better"),
        (None, 1, "first"),
    ]
    assert history[0].gates[0].name == "advisory" and not history[0].gates[0].passed
    events = list_events(ctx, action="models.promote")
    assert [(e.before, e.after["version"]) for e in events] == [({"version": 1}, 2), ({"version": None}, 1)]
    with ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ModelAliasEventRow)) == 2


def test_lineage_and_card_from_the_store(ctx: Any, tiny_base: Path, tiny_adapter: Path) -> None:
    from llmloop.services.data import service as data
    from llmloop.services.data.schemas import DatasetAdd

    rows = Path(ctx.settings.home) / "rows.jsonl"
    rows.parent.mkdir(parents=True, exist_ok=True)
    rows.write_text('{"prompt": "hi", "completion": "hello"}\n{"prompt": "bye", "completion": "ciao"}\n')
    ds = data.add_version(ctx, spec=DatasetAdd(project="p", name="chats", path=str(rows))).version
    run = tracking.create_run(
        ctx, spec=RunCreate(project="p", name="sft-1", kind="train", params={"lr": "0.0002"})
    )
    tracking.log_batch(
        ctx,
        run_id=run.id,
        batch=RunBatch(
            metrics=[MetricPoint(key="loss", value=0.5, step=3, timestamp=1.0)], end_status="finished"
        ),
    )
    service.register_base(ctx, name="tiny", path=str(tiny_base), project="p")
    ft = service.register_model_version(
        ctx,
        spec=ModelVersionCreate(
            project="p",
            name="tiny-ft",
            base_model="tiny@1",
            adapter_dir=str(tiny_adapter),
            run_id=run.id,
            source="run",
            inputs=[EntityRef(type="dataset_version", id=ds.id, relation="trained_on")],
            description="SFT on chats",
        ),
    )
    lineage = model_lineage(ctx, ref="tiny-ft", project="p")
    found = {(e.src_type, e.relation, e.label) for e in lineage.upstream}
    assert ("run", "produced", "sft-1") in found
    assert ("dataset_version", "trained_on", "chats@1") in found
    assert ("model_version", "base_of", "tiny@1") in found
    base_lineage = model_lineage(ctx, ref="tiny@1", project="p")
    assert ("model_version", ft.id) in {(e.dst_type, e.dst_id) for e in base_lineage.downstream}

    md = card.model_card(ctx, ref="tiny-ft@1", project="p").markdown
    assert md.startswith("# tiny-ft@1") and "SFT on chats" in md
    assert "| lr | 0.0002 |" in md and "| loss | 0.5 |" in md
    assert "| chats@1 | trained_on | 2 |" in md
    assert "No completed evaluations" in md and "LORA r=4" in md


def test_card_lists_completed_evaluations_of_this_version(ctx: Any, tiny_base: Path) -> None:
    import uuid

    from llmloop.security import audit
    from llmloop.store.projects import project_id
    from llmloop.store.tables.evaluations import EvaluationRow

    v = service.register_base(ctx, name="tiny", path=str(tiny_base), project="p")
    with ctx.db.session() as s:
        pid = project_id(s, "p")
        for status, score in (("completed", 0.75), ("running", 0.1)):
            s.add(
                EvaluationRow(
                    id=uuid.uuid4().hex, project_id=pid, suite="qa", suite_sha256="0" * 64, model_ref=v.ref,
                    model_version=v.id, dataset_ref="qa@1", status=status, n_examples=8,
                    metrics={"exact_match": {"key": "exact_match", "metric": "exact_match", "score": score}},
                )
            )  # fmt: skip
        audit.exempt(s, "rows a test writes directly, standing in for finished evaluations")
    md = card.model_card(ctx, ref="tiny", project="p").markdown
    assert "| qa | qa@1 | 8 | exact_match | 0.75 |" in md and "0.1 |" not in md


def test_specs_for_hub_and_upstream_and_a_vanished_base(
    ctx: Any, tiny_base: Path, tiny_adapter: Path, tmp_path: Path
) -> None:
    import shutil

    hub = service.register_model_version(
        ctx, spec=ModelVersionCreate(project="p", name="hubbed", base="HuggingFaceTB/SmolLM2-135M-Instruct")
    )
    spec = loading.model_spec(ctx, hub)
    assert (spec.base_kind, spec.base, spec.default_engine) == (
        "hub",
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        "transformers",
    )
    ctx.settings.upstream_env_allow = ["VLLM_KEY"]  # the operator's allow-list (LLMLOOP_UPSTREAM_ENV_ALLOW)
    up = service.register_model_version(
        ctx,
        spec=ModelVersionCreate(
            project="p",
            name="served",
            upstream={"base_url": "http://127.0.0.1:8000/v1/", "model": "smol", "api_key_env": "VLLM_KEY"},
            default_engine="vllm",
        ),
    )
    spec = loading.model_spec(ctx, up)
    assert (spec.base_kind, spec.base, spec.default_engine) == ("upstream", "smol", "vllm")
    assert spec.upstream is not None and spec.upstream.base_url == "http://127.0.0.1:8000/v1"
    assert spec.upstream.api_key is not None  # a key source, asked at each request
    lora = service.register_model_version(  # one vLLM base serving a fine-tune: the adapter rides along
        ctx,
        spec=ModelVersionCreate(
            project="p", name="served-ft", base_model="served", adapter_dir=str(tiny_adapter)
        ),
    )
    spec = loading.model_spec(ctx, lora)
    assert (spec.base_kind, spec.base, spec.default_engine, spec.adapter_name) == (
        "upstream",
        "smol",
        "vllm",
        "served-ft-v1",
    )
    assert spec.upstream is not None and spec.upstream.base_url == "http://127.0.0.1:8000/v1"
    assert spec.adapter_dir is not None and Path(spec.adapter_dir, "adapter_config.json").is_file()
    copy = shutil.copytree(tiny_base, tmp_path / "copy")
    gone = service.register_base(ctx, name="gone", path=str(copy), project="p")
    shutil.rmtree(copy)
    with pytest.raises(NotFound, match="is gone"):
        loading.model_spec(ctx, gone)


def test_concurrent_registrations_of_one_base_make_one_version(ctx: Any, tiny_base: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        ids = set(
            pool.map(
                lambda _: service.register_base(ctx, name="tiny", path=str(tiny_base), project="p").id,
                range(4),
            )
        )
    assert len(ids) == 1 and [v.version for v in service.list_versions(ctx, name="tiny", project="p")] == [1]
    with ThreadPoolExecutor(4) as pool:  # distinct versions racing for numbers all land, numbered 1..4
        refs = list(pool.map(lambda i: service.register_model_version(
            ctx, spec=ModelVersionCreate(project="p", name="many", base=f"org/m{i}")).version, range(4)))  # fmt: skip
    assert sorted(refs) == [1, 2, 3, 4]
