"""``quantization`` where users register models: the CLI, ``ll.models.register`` locally and against a server.

Only what an engine applies when loading is accepted (``int8-dynamic``, by the transformers
engine); anything else is refused naming the allowed values, and nothing is stored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import LiveServer

import llmloop as ll
from llmloop.config import reset_settings
from llmloop.errors import InvalidInput


def _versions(name: str) -> list[int]:
    return (
        [v.version for v in ll.models.versions(name)] if any(m.name == name for m in ll.models.list()) else []
    )


def test_cli_register_takes_quantization_and_refuses_unknown_values(cli: Any, tiny_base: Path) -> None:
    done = cli(
        "models",
        "register",
        "tiny-int8",
        "--base",
        str(tiny_base),
        "--quantization",
        "int8-dynamic",
        "--json",
    )
    assert done.exit_code == 0, done.stderr
    version = json.loads(done.stdout)
    assert version["quantization"] == "int8-dynamic" and version["default_engine"] == "transformers"
    bad = cli("models", "register", "tiny-int4", "--base", str(tiny_base), "--quantization", "int4")
    assert bad.exit_code == 2 and "int4" in bad.stderr and "int8-dynamic" in bad.stderr
    assert _versions("tiny-int4") == []


def test_sdk_register_validates_quantization_before_storing(isolated_home: Path, tiny_base: Path) -> None:
    v = ll.models.register("tiny-int8", base=str(tiny_base), quantization="int8-dynamic")
    assert v.quantization == "int8-dynamic" and ll.models.get("tiny-int8@1").quantization == "int8-dynamic"
    for wrong in ("int4", "q4_1", "INT8-DYNAMIC", ""):
        with pytest.raises(InvalidInput, match="one of: int8-dynamic") as info:
            ll.models.register("tiny-bad", base=str(tiny_base), quantization=wrong)
        assert info.value.details.get("field") == "quantization"
    assert _versions("tiny-bad") == []


def test_quantization_that_no_chosen_engine_applies_is_refused(isolated_home: Path, tiny_base: Path) -> None:
    """int8-dynamic is the transformers engine's: naming another engine, or an upstream, cannot honour it."""
    with pytest.raises(InvalidInput, match="transformers engine") as info:
        ll.models.register("q", base=str(tiny_base), quantization="int8-dynamic", default_engine="llamacpp")
    assert info.value.details.get("field") == "quantization"
    with pytest.raises(InvalidInput, match="upstream"):
        ll.models.register(
            "q",
            upstream={"base_url": "http://127.0.0.1:9/v1", "model": "m"},
            quantization="int8-dynamic",
        )
    assert _versions("q") == []


def test_a_gguf_registered_int8_dynamic_defaults_to_the_engine_that_applies_it(
    isolated_home: Path, smollm2_gguf: Path
) -> None:
    v = ll.models.register("smol-int8", base=str(smollm2_gguf), quantization="int8-dynamic")
    assert (v.quantization, v.default_engine) == ("int8-dynamic", "transformers")
    plain = ll.models.register("smol", base=str(smollm2_gguf))
    assert plain.default_engine == "llamacpp" and plain.quantization == "q4_1"  # read from the file


def test_remote_register_carries_quantization_and_the_same_refusal(
    live_server: LiveServer, tiny_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ll.models.register("tiny", base=str(tiny_base)).ref  # local, on the server's store
    monkeypatch.setenv("LLMLOOP_SERVER_URL", live_server.url)
    reset_settings()
    v = ll.models.register("tiny-int8", base_model=base, quantization="int8-dynamic")
    assert v.quantization == "int8-dynamic" and v.base.version == base
    with pytest.raises(InvalidInput, match="one of: int8-dynamic"):
        ll.models.register("tiny-bad", base_model=base, quantization="int4")
    assert _versions("tiny-bad") == []


def test_rest_body_is_checked_by_the_server_too(api: Any, ctx: Any) -> None:
    """A client that skips the SDK's check still meets the same refusal at /api/v1."""
    up = {"base_url": "http://127.0.0.1:9/v1", "model": "m"}
    bad = api.post(
        "/api/v1/models/q/versions", params={"project": "p"}, json={"upstream": up, "quantization": "int4"}
    )
    assert bad.status_code == 400 and "one of: int8-dynamic" in bad.json()["error"]["message"]
    assert api.get("/api/v1/models", params={"project": "p"}).json()["items"] == []
