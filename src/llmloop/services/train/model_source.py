"""The base model: resolve what a config names to a local Hugging Face folder, then load it.

``model.base`` is a local folder (anything with a ``config.json``) or a registry reference
(``smollm2-135m-instruct``, ``travel-sft@champion``). The registry seam is ``_from_registry``,
the one place training asks the models service for files; without that service a reference
that is not a folder is a clear error. A version that carries a LoRA adapter (an SFT result
that DPO continues from) is loaded and merged into its base, so the new adapter trains on top
and "adapter disabled" is exactly the SFT model: DPO's reference without a second copy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmloop.context import Context
from llmloop.errors import InvalidInput, NotFound, Unavailable


@dataclass(frozen=True)
class ModelSource:
    ref: str  # what the config named
    path: Path  # local HF folder of the base weights and tokenizer
    adapter_path: Path | None  # a PEFT adapter to merge first (a registered fine-tune)
    entity_type: str  # lineage: model_version | model_dir | artifact (a local adapter's weights)
    entity_id: str  # name@version, or a fingerprint of the folder
    base_ref: str  # what a new version names as its base: a registry ref, or path:<folder>


def resolve_model(
    ctx: Context, ref: str, *, project: str, adapter: str | None = None, key: str = "model.base"
) -> ModelSource:
    """A local folder as is; anything else through the models registry; ``adapter`` merged on top."""
    path = Path(ref).expanduser()
    if path.is_dir():
        if is_adapter_folder(path):
            raise InvalidInput(
                f"{key}: {path} holds only a LoRA adapter; put it in model.adapter and its base in model.base",
                details={"key": key},
            )
        if not (path / "config.json").is_file():
            raise InvalidInput(
                f"{key}: {path} is not a Hugging Face model folder (no config.json)",
                details={"key": key, "path": str(path)},
            )
        resolved = path.resolve()
        source = ModelSource(
            ref, resolved, None, "model_dir", folder_fingerprint(resolved), f"path:{resolved}"
        )
    elif "/" in ref:
        raise NotFound(f"{key}: model folder not found: {ref}", details={"key": key, "path": ref})
    else:
        source = _from_registry(ctx, ref, project=project, key=key)
    return source if adapter is None else _with_adapter(source, Path(adapter).expanduser())


def is_adapter_folder(path: Path) -> bool:
    return (path / "adapter_config.json").is_file() and not _has_weights(path)


def _with_adapter(source: ModelSource, adapter: Path) -> ModelSource:
    """A local PEFT adapter on the base (an SFT result that DPO continues from, without the registry)."""
    if source.adapter_path is not None:
        raise InvalidInput(
            f"model.adapter: {source.ref} already carries an adapter; name the base instead",
            details={"key": "model.adapter"},
        )
    if not is_adapter_folder(adapter):
        raise InvalidInput(
            f"model.adapter: {adapter} is not a PEFT adapter folder (adapter_config.json + adapter weights)",
            details={"key": "model.adapter", "path": str(adapter)},
        )
    weights = next(adapter.glob("adapter_model.*"), None)
    digest = hashlib.sha256(weights.read_bytes() if weights else b"").hexdigest()
    return ModelSource(
        f"{source.ref}+{adapter}",
        source.path,
        adapter.resolve(),
        "artifact",
        digest,
        source.base_ref,  # the adapter is stacked with the new one on registration: the base stays
    )


def _has_weights(path: Path) -> bool:
    return any(path.glob("*.safetensors")) and not all(
        p.name.startswith("adapter_") for p in path.glob("*.safetensors")
    )


def folder_fingerprint(path: Path) -> str:
    """A 64-hex id for a model folder: its config plus each weight file's name and size."""
    h = hashlib.sha256((path / "config.json").read_bytes())
    for f in sorted(path.iterdir()):
        if f.is_file() and f.suffix in (".safetensors", ".bin", ".gguf"):
            h.update(f"{f.name}:{f.stat().st_size}".encode())
    return h.hexdigest()


def _from_registry(ctx: Context, ref: str, *, project: str, key: str) -> ModelSource:
    """SEAM (models, issue 5): a registered version → local transformers folder (+ its adapter folder).

    ``get_model_version`` pins the reference (``travel-sft@champion`` → one version; the packaged
    ``smollm2-135m-instruct`` registers itself on first use); ``loading.model_spec`` resolves the base
    path and unpacks the adapter; a GGUF base is dequantised once into the registry's model cache
    (``engines.weights.gguf_to_hf_dir``, STACK traps 1-2 handled there) because training needs
    transformers weights. Hub ids and remote upstreams are not trainable here.
    """
    from llmloop.engines import weights
    from llmloop.services.registry import loading
    from llmloop.services.registry import service as registry

    try:
        mv = registry.get_model_version(ctx, ref=ref, project=project)
    except NotFound as e:
        raise NotFound(f"{key}: {e.message}", details={**e.details, "key": key}) from e
    spec = loading.model_spec(ctx, mv)
    if spec.base_kind == "hf_dir":
        base_dir = Path(spec.base)
    elif spec.base_kind == "gguf":
        digest = weights.check_gguf(Path(spec.base), spec.base_sha256)
        base_dir = weights.gguf_to_hf_dir(Path(spec.base), digest, weights.model_cache_root(spec.cache_dir))
    else:
        raise InvalidInput(
            f"{key}: {mv.ref} is a {spec.base_kind} model; training needs local weights (a folder or a GGUF file)",
            details={"key": key, "ref": mv.ref},
        )
    adapter = Path(spec.adapter_dir) if spec.adapter_dir else None
    # What a version trained from this one names as its base: this version itself, or (when this
    # one carries an adapter, stacked with the new one on registration) the base *it* adapts.
    root = mv.ref if adapter is None else (mv.base.version or f"path:{mv.base.uri}")
    return ModelSource(mv.ref, base_dir, adapter, "model_version", str(mv.id), str(root))


def read_model_config(source: ModelSource) -> dict[str, Any]:
    try:
        data = json.loads((source.path / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise InvalidInput(
            f"cannot read {source.path / 'config.json'}: {e}", details={"path": str(source.path)}
        ) from e
    if not isinstance(data, dict):
        raise InvalidInput(
            f"{source.path / 'config.json'} is not a JSON object", details={"path": str(source.path)}
        )
    return data


def load_tokenizer(source: ModelSource) -> Any:
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(source.path))
    except (OSError, ValueError) as e:
        raise InvalidInput(
            f"cannot load the tokenizer from {source.path}: {e}", details={"path": str(source.path)}
        ) from e
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(source: ModelSource, *, quantization: str = "none") -> Any:
    """The base in fp32 (bf16 is autocast by the trainer), with a registered adapter merged in."""
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": torch.float32}
    if quantization == "4bit":
        kwargs.update(_qlora_kwargs())
    try:
        model = AutoModelForCausalLM.from_pretrained(str(source.path), **kwargs)
    except (OSError, ValueError) as e:
        raise InvalidInput(
            f"cannot load the model from {source.path}: {e}", details={"path": str(source.path)}
        ) from e
    if source.adapter_path is not None:
        model = merge_adapter(model, source.adapter_path, ref=source.ref)
    return model


def merge_adapter(model: Any, adapter_path: Path, *, ref: str) -> Any:
    from peft import PeftModel

    try:
        merged = PeftModel.from_pretrained(model, str(adapter_path)).merge_and_unload()
    except (RuntimeError, ValueError, KeyError) as e:
        raise InvalidInput(
            f"the adapter of {ref!r} does not fit its base model ({str(e).splitlines()[0][:200]})",
            details={"ref": ref, "adapter": str(adapter_path)},
        ) from e
    return merged


def _qlora_kwargs() -> dict[str, Any]:
    """4-bit NF4 base weights for QLoRA; only CUDA with bitsandbytes can hold them."""
    import importlib.util

    import torch

    if not torch.cuda.is_available() or importlib.util.find_spec("bitsandbytes") is None:
        raise Unavailable(
            "lora.quantization: 4bit (QLoRA) needs a CUDA GPU and bitsandbytes (pip install bitsandbytes)",
            details={"key": "lora.quantization"},
        )
    from transformers import BitsAndBytesConfig

    return {
        "quantization_config": BitsAndBytesConfig(  # type: ignore[no-untyped-call]
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
        )
    }
