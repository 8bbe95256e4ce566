"""The ``llmloop.engines`` entry-point group: built-ins mirrored in pyproject, plugins found in installed metadata."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import pytest
import tomllib

import llmloop.engines as engines
from llmloop.engines import registry, schemas
from llmloop.engines.spec import EngineKind, ModelSpec
from llmloop.errors import InvalidInput, Unavailable

ROOT = Path(__file__).resolve().parents[3]

PLUGIN = '''
from llmloop.engines.generation import Piece, chat_chunks, completion_chunks


class ShoutEngine:
    """A third-party engine: answers the last message in capitals."""

    kind = "shout"

    def __init__(self, spec):
        self.model = spec.ref

    def chat(self, request):
        text = request.message_dicts()[-1]["content"].upper()
        return chat_chunks(self.model, [Piece(text, "stop", 1, 1)])

    def complete(self, request):
        return completion_chunks(self.model, [Piece(request.prompt_text().upper(), "stop", 1, 1)])

    def embed(self, request):
        raise NotImplementedError

    def close(self):
        pass


def not_an_engine(spec):
    return object()
'''


def test_builtins_are_declared_in_pyproject_like_plugins() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"][registry.GROUP]
    assert declared == registry.BUILTINS
    assert set(get_args(EngineKind)) == set(registry.BUILTINS)  # what a version may pin as its default


def test_unknown_kind_names_it_lists_the_known_and_suggests() -> None:
    with pytest.raises(InvalidInput) as e:
        registry.entry("transformer")
    assert "'transformer' is unknown" in e.value.message
    assert "did you mean 'transformers'" in e.value.message
    assert all(k in e.value.message for k in registry.BUILTINS)
    assert e.value.details["did_you_mean"] == "transformers"
    with pytest.raises(InvalidInput, match="choose one of transformers, llamacpp, vllm, openai"):
        registry.entry("zzz")


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A real installed distribution (dist-info on sys.path) declaring engines in the group."""
    (tmp_path / "shout_engine.py").write_text(PLUGIN)
    info = tmp_path / "shout_engine-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shout-engine\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [llmloop.engines]
            shout = shout_engine:ShoutEngine
            broken = shout_engine:not_an_engine
            missing = no_such_module_here:Engine
            transformers = shout_engine:ShoutEngine
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.installed.cache_clear()
    yield
    registry.installed.cache_clear()
    engines.release_all()


def test_a_plugin_engine_is_found_and_served(plugin: None) -> None:
    assert {"shout", "broken", "missing"} <= set(registry.names())
    spec = ModelSpec(ref="s@1", key="s", base_kind="hf_dir", base="unused")
    eng = engines.load_engine(spec, "shout")
    assert isinstance(eng, engines.InferenceEngine) and engines.load_engine(spec, "shout") is eng
    out = schemas.collect_chat(eng.chat(schemas.ChatRequest(messages=[{"role": "user", "content": "hi"}])))
    assert out.choices[0].message.content == "HI" and out.model == "s@1"


def test_a_plugin_cannot_take_over_a_builtin_name(plugin: None) -> None:
    assert registry.entry("transformers").value == registry.BUILTINS["transformers"]
    assert registry.names().count("transformers") == 1


def test_a_broken_plugin_is_a_clear_error(plugin: None) -> None:
    spec = ModelSpec(ref="s@1", key="s", base_kind="hf_dir", base="unused")
    with pytest.raises(InvalidInput, match=r"'broken'.*not an InferenceEngine"):
        engines.load_engine(spec, "broken")
    with pytest.raises(Unavailable, match="'missing' could not be loaded from no_such_module_here:Engine"):
        engines.load_engine(spec, "missing")
    assert engines.loaded() == []
