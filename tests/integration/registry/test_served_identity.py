"""One process, many versions over the same weights: each is answered by an engine built for it, and says so.

The engine cache is keyed by everything an engine's answers depend on (weights, adapter,
quantization, options such as dtype, engine kind, and the version it names), not by the weights
alone, so ``X@1`` and ``X-int8@1`` never share an engine, in either order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.openai_server import serving

import llmloop as ll
import llmloop.engines as engines
from llmloop.context import local_context
from llmloop.engines.spec import ModelSpec, Upstream
from llmloop.services.registry import inference

ASK = [{"role": "user", "content": "Pick a beach for March."}]


@pytest.fixture(autouse=True)
def _fresh_engines() -> Iterator[None]:
    engines.release_all()
    yield
    engines.release_all()


def _int8_layers(engine: Any) -> int:
    from torch.ao.nn.quantized.dynamic import Linear as DynamicInt8Linear

    return sum(isinstance(m, DynamicInt8Linear) for m in engine._lm.modules())  # the loaded torch model


@pytest.mark.parametrize("int8_first", [False, True], ids=["plain-first", "int8-first"])
def test_same_weights_quantized_or_not_are_served_apart(
    isolated_home: Path, tiny_llama_dir: Path, int8_first: bool
) -> None:
    plain = ll.models.register("X", base=str(tiny_llama_dir)).ref
    int8 = ll.models.register("X-int8", base=str(tiny_llama_dir), quantization="int8-dynamic").ref
    order = [int8, plain] if int8_first else [plain, int8]
    for ref in order:
        answer = ll.chat(model=ref, messages=ASK, max_tokens=3, temperature=0)
        assert answer.model == ref  # the response names the version that answered
    ctx = local_context()
    for ref in order:
        version, engine = inference.engine_for(ctx, model=ref)
        assert engine.model == ref
        assert (_int8_layers(engine) > 0) == (version.quantization == "int8-dynamic"), ref
    assert len(engines.loaded()) == 2


def test_two_versions_of_identical_weights_each_name_themselves(
    isolated_home: Path, tiny_llama_dir: Path
) -> None:
    first = ll.models.register("Y", base=str(tiny_llama_dir)).ref
    second = ll.models.register("Y", base=str(tiny_llama_dir), description="the same weights again").ref
    assert (first, second) == ("Y@1", "Y@2")
    assert ll.chat(model=first, messages=ASK, max_tokens=2).model == first
    assert ll.chat(model="Y", messages=ASK, max_tokens=2).model == second
    assert ll.chat(model="Y@1", messages=ASK, max_tokens=2).model == first  # the same engine again


# A changed value per ModelSpec field; the test below fails when a field is added without one,
# so no part of what an engine serves can be left out of its cache key unnoticed.
VARIANTS: dict[str, Any] = {
    "ref": "u@2",
    "key": "other-weights",
    "base_kind": "hf_dir",
    "base": "other-base",
    "base_sha256": "0" * 64,
    "adapter_dir": "/tmp/adapter",
    "adapter_name": "u-v2",
    "chat_template": "{{ messages }}",
    "context_length": 128,
    "quantization": "int8-dynamic",
    "default_engine": "vllm",
    "upstream": "other-model",  # built with the fake's URL below
    "cache_dir": "/tmp/other-cache",
    "options": {"dtype": "float32"},
}


def test_every_field_of_the_spec_is_part_of_the_engine_cache_key() -> None:
    assert set(VARIANTS) == {f.name for f in dataclasses.fields(ModelSpec)}
    with serving() as fake:
        spec = ModelSpec(
            ref="u@1", key="w", base_kind="upstream", base="base", upstream=Upstream(fake.url, "base")
        )
        engine = engines.load_engine(spec, "openai")
        assert engines.load_engine(dataclasses.replace(spec), "openai") is engine  # equal specs share one
        assert engines.load_engine(spec, "vllm") is not engine  # the engine kind is part of it
        for name, value in VARIANTS.items():
            if name == "upstream":
                value = Upstream(fake.url, value)
            other = engines.load_engine(dataclasses.replace(spec, **{name: value}), "openai")
            assert other is not engine, f"a spec differing only in {name} got the same engine"
