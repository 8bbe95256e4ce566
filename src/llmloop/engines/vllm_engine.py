"""A vLLM OpenAI server the user runs, serving many registered fine-tunes from one base.

vLLM needs a GPU, so llmloop does not start it; the user does, with runtime LoRA loading on::

    VLLM_ALLOW_RUNTIME_LORA_UPDATING=True \\
    vllm serve HuggingFaceTB/SmolLM2-135M-Instruct --enable-lora --max-lora-rank 64 --max-loras 8 --port 8000

and registers the base with an upstream (``base_url=http://HOST:8000/v1``, ``model`` = the
served base name). When a version carrying a LoRA adapter is loaded, this engine registers
the adapter folder into the server (``POST /v1/load_lora_adapter {lora_name, lora_path}``;
the path must be readable by the vLLM process, i.e. the same machine or a shared disk) and
then addresses requests to ``lora_name``: one base in GPU memory serves every fine-tune.
An adapter vLLM already knows (HTTP 400 "already loaded") is fine; anything else is
``Unavailable`` naming the server's answer.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx

from llmloop.engines.openai_engine import OpenAIEngine, _error_message
from llmloop.engines.spec import ModelSpec
from llmloop.errors import InvalidInput, Unavailable


def lora_name(spec: ModelSpec) -> str:
    """The name vLLM knows this version's adapter by: the registry's, else one derived from the key."""
    return spec.adapter_name or f"llmloop-{spec.key[:16]}"


class VLLMEngine(OpenAIEngine):
    kind = "vllm"

    def __init__(self, spec: ModelSpec) -> None:
        if spec.upstream is None:
            raise InvalidInput(
                f"{spec.ref}: the vllm engine needs an upstream: the base_url of a vLLM server the user started",
                details={"model": spec.ref},
            )
        if spec.adapter_dir is not None:
            name = lora_name(spec)
            spec = dataclasses.replace(spec, upstream=dataclasses.replace(spec.upstream, model=name))
        super().__init__(spec)
        if spec.adapter_dir is not None:
            try:
                self._load_adapter(lora_name(spec), spec.adapter_dir)
            except BaseException:
                self.close()
                raise

    def _load_adapter(self, name: str, path: str) -> None:
        url = self._url.removesuffix("/v1") + "/v1/load_lora_adapter"
        body = {"lora_name": name, "lora_path": str(Path(path).resolve())}
        try:
            resp = self._client.post(url, json=body, headers=self._headers())
        except httpx.HTTPError as e:
            raise self._fail(f"cannot register LoRA adapter {name!r} ({type(e).__name__})") from None
        if resp.status_code < 300:
            return
        detail = _error_message(resp)
        if resp.status_code == 400 and "already" in detail.lower():
            return
        if resp.status_code == 404:
            raise Unavailable(
                f"upstream {self._url} has no /v1/load_lora_adapter: start vLLM with --enable-lora and "
                "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True",
                details={"upstream": self._url},
            )
        raise self._fail(f"refused LoRA adapter {name!r} (HTTP {resp.status_code}): {detail}")
