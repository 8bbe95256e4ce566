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

from llmloop.engines.openai_upstream import OpenAIEngine
from llmloop.engines.spec import ModelSpec
from llmloop.errors import InvalidInput, NotFound, Unavailable


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
        body = {"lora_name": name, "lora_path": str(Path(path).resolve())}
        try:
            self.client.post_text("/load_lora_adapter", body)
        except NotFound:
            raise Unavailable(
                f"upstream {self.client.url} has no /v1/load_lora_adapter: start vLLM with --enable-lora and "
                "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True",
                details={"upstream": self.client.url},
            ) from None
        except InvalidInput as e:
            if "already" in e.message.lower():
                return
            raise self.client.fail(f"refused LoRA adapter {name!r}: {e.message}") from None
        except Unavailable as e:
            raise self.client.fail(f"cannot register LoRA adapter {name!r} ({e.message})") from None
