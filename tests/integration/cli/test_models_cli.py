"""``llmloop models``: tables for people, --json equal to the API, one-line errors, and ``ll.models`` remotely."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import llmloop as ll
from llmloop.config import reset_settings


def test_register_promote_and_inspect_from_the_shell(
    cli: Any, api: Any, tiny_base: Path, tiny_adapter: Path, tmp_path: Path
) -> None:
    added = cli("models", "add-base", "tiny", str(tiny_base), "-p", "shop")
    assert added.exit_code == 0 and "registered tiny@1: hf_dir:model" in added.stdout
    reg = json.loads(
        cli(
            "models",
            "register",
            "tiny-ft",
            "--base-model",
            "tiny",
            "--adapter",
            str(tiny_adapter),
            "-p",
            "shop",
            "--json",
        ).stdout
    )
    assert reg["ref"] == "tiny-ft@1" and reg["base"]["version"] == "tiny@1" and reg["adapter"]["rank"] == 4

    listed = json.loads(cli("models", "list", "--json", "-p", "shop").stdout)
    assert listed == api.get("/api/v1/models", params={"project": "shop"}).json()["items"]
    assert [m["name"] for m in listed] == ["tiny", "tiny-ft"]
    shown = json.loads(cli("models", "show", "tiny-ft@1", "-p", "shop", "--json").stdout)
    assert shown == api.get("/api/v1/models/tiny-ft/versions/1", params={"project": "shop"}).json()
    table = cli("models", "versions", "tiny-ft", "-p", "shop")
    assert table.exit_code == 0 and "tiny@1" in table.stdout and "r=4" in table.stdout

    moved = cli("models", "promote", "tiny-ft@1", "champion", "--reason", "first fine-tune", "-p", "shop")
    assert moved.exit_code == 0 and "tiny-ft@champion -> tiny-ft@1" in moved.stdout
    hist = json.loads(cli("models", "history", "tiny-ft", "-p", "shop", "--json").stdout)
    assert [(e["alias"], e["to_version"], e["reason"]) for e in hist] == [("champion", 1, "first fine-tune")]
    lineage = cli("models", "lineage", "tiny-ft@champion", "-p", "shop")
    assert lineage.exit_code == 0 and "base_of" in lineage.stdout and "tiny@1" in lineage.stdout
    out = tmp_path / "card.md"
    assert cli("models", "card", "tiny-ft@champion", "-p", "shop", "-o", str(out)).exit_code == 0
    assert (
        out.read_text().startswith("# tiny-ft@1")
        and "| champion | - | 1 | first fine-tune |" in out.read_text()
    )
    md = api.get(
        "/api/v1/models/tiny-ft/versions/champion/card", params={"project": "shop", "format": "markdown"}
    )
    assert md.headers["content-type"].startswith("text/markdown") and md.text == out.read_text()


def test_errors_are_one_line_and_change_nothing(cli: Any, tiny_base: Path) -> None:
    cli("models", "add-base", "tiny", str(tiny_base))
    bad_alias = cli("models", "promote", "tiny@1", "9lives")
    assert bad_alias.exit_code != 0 and bad_alias.stderr.startswith("error: invalid alias '9lives'")
    missing = cli("models", "show", "tiny@champion")
    assert missing.exit_code != 0 and "alias tiny@champion not found" in missing.stderr
    both = cli("models", "register", "x", "--base", str(tiny_base), "--base-model", "tiny")
    assert both.exit_code != 0 and "exactly one base" in both.stderr
    assert json.loads(cli("models", "versions", "tiny", "--json").stdout)[0]["version"] == 1
    assert cli("models", "list", "--json").stdout.count('"name"') == 1


@pytest.mark.slow
def test_sdk_against_a_live_server(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMLOOP_SERVER_URL", live_server.url)
    reset_settings()
    hub = "HuggingFaceTB/SmolLM2-135M-Instruct"
    v1 = ll.models.register("hubbed", base=hub, project="remote", description="from the hub")
    with pytest.raises(
        ll.InvalidInput, match="LLMLOOP_UPSTREAM_ENV_ALLOW"
    ):  # no caller names a server variable
        ll.models.register(
            "hubbed",
            upstream={"base_url": "http://127.0.0.1:9/v1", "model": "smol", "api_key_env": "SMOL_KEY"},
            project="remote",
        )
    v2 = ll.models.register(
        "hubbed", upstream={"base_url": "http://127.0.0.1:9/v1", "model": "smol"}, project="remote"
    )
    assert (v1.base.kind, v1.default_engine, v2.base.kind, v2.default_engine) == (
        "hub",
        "transformers",
        "upstream",
        "openai",
    )
    assert v2.upstream is not None and v2.upstream.api_key_env is None
    result = ll.models.promote("hubbed@1", "production", project="remote", reason="ship")
    assert result.promoted and ll.models.get("hubbed@production", project="remote").id == v1.id
    with pytest.raises(ll.InvalidInput, match="gates are code"):
        ll.models.promote("hubbed@2", "production", project="remote", gates=[lambda c, v: None])
    with pytest.raises(ll.PermissionDenied, match="server-side import is disabled"):
        ll.models.register("local", base="/etc", project="remote")
    assert [e.to_version for e in ll.models.history("hubbed", project="remote")] == [1]
    assert ll.models.card("hubbed@production", project="remote").startswith("# hubbed@1")
    assert [m.name for m in ll.models.list(project="remote")] == ["hubbed"]


def test_export_merges_the_adapter_and_registers_the_result(
    cli: Any, tiny_llama_dir: Path, tiny_lora_dir: Path, tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import load_file

    cli("models", "add-base", "tiny", str(tiny_llama_dir))
    cli("models", "register", "tiny-ft", "--base-model", "tiny", "--adapter", str(tiny_lora_dir))
    out = tmp_path / "merged"
    done = json.loads(
        cli("models", "export", "tiny-ft@1", str(out), "--register", "tiny-merged", "--json").stdout
    )
    assert done == {"source": "tiny-ft@1", "path": str(out), "format": "hf", "registered": "tiny-merged@1"}
    assert not list(out.glob("adapter_*")) and (out / "config.json").is_file()
    merged, base = (
        load_file(str(out / "model.safetensors")),
        load_file(str(tiny_llama_dir / "model.safetensors")),
    )
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(merged[q], base[q])  # the LoRA update is in the weights now
    assert torch.equal(merged["model.layers.0.mlp.up_proj.weight"], base["model.layers.0.mlp.up_proj.weight"])
    lineage = ll.models.lineage("tiny-merged@1")
    assert any(e.relation == "exported_from" and e.label == "tiny-ft@1" for e in lineage.upstream)
    again = cli("models", "export", "tiny-ft@1", str(out))
    assert again.exit_code != 0 and "exists" in again.stderr
