"""Compression and export: merged HF folders, int8 dynamic quantization, and GGUF for llama.cpp.

* ``export_merged(spec, out_dir)``: base + LoRA adapter merged into one plain HF folder
  (weights + tokenizer), servable by any engine or by other tools.
* ``quantize_int8(model)``: post-training dynamic int8 quantization of every ``nn.Linear``
  (weights int8, activations quantised on the fly) for the transformers engine on CPU; the
  engine applies it when a version's ``quantization`` is ``"int8-dynamic"``.
* ``export_gguf(spec, out_path, dtype)``: a fine-tuned (merged) Llama-architecture model as a
  GGUF llama.cpp can serve. llama.cpp's own converter (``convert_hf_to_gguf.py``) is not in
  any PyPI wheel (neither ``gguf`` 0.19, which ships only dump/metadata scripts, nor
  ``llama-cpp-python``, whose wheel holds the compiled library and Python bindings only), and
  the hard part it does is turning an HF tokenizer into GGUF vocabulary metadata. So this
  export works when the base itself came from a GGUF (the packaged SmolLM2, any registered
  GGUF): the header (architecture parameters, vocabulary, merges, chat template) is copied
  from that GGUF and only the tensors are replaced, written with ``gguf.GGUFWriter`` under
  llama.cpp's tensor names (Q/K rows permuted back to llama.cpp's rotary layout). A base
  that is an HF folder or another architecture gets ``Unavailable`` saying exactly that.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path
from typing import Any

from llmloop.engines.spec import ModelSpec
from llmloop.engines.weights import build_once
from llmloop.errors import InvalidInput, Unavailable

GGUF_DTYPES = ("f32", "f16", "q8_0")


def quantize_int8(model: Any) -> Any:
    """``model`` with its Linear layers dynamically quantised to int8 (CPU inference only)."""
    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # torch deprecates torch.ao in favour of torchao, not installed here
        warnings.simplefilter("ignore")
        return quantize_dynamic(model.float(), {torch.nn.Linear}, dtype=torch.qint8)  # type: ignore[no-untyped-call]


def _merged_model(spec: ModelSpec) -> tuple[Any, Any]:
    from llmloop.engines.transformers_engine import load_causal_lm

    plain = dataclasses.replace(spec, quantization=None)
    return load_causal_lm(plain, device="cpu", dtype="float32")


def export_merged(spec: ModelSpec, out_dir: str | os.PathLike[str]) -> Path:
    """Write ``spec`` (base + adapter merged) as an HF folder at ``out_dir`` (built atomically; must not exist)."""
    out = Path(out_dir).expanduser()
    if out.exists():
        raise InvalidInput(f"{out} exists already; choose a new folder", details={"path": str(out)})
    out.parent.mkdir(parents=True, exist_ok=True)

    def build(tmp: Path) -> None:
        model, tokenizer = _merged_model(spec)
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))

    return build_once(out, build)


def _permute(w: Any, n_head: int) -> Any:
    """HF's rotary layout of a Q/K projection back to llama.cpp's (inverse of transformers' GGUF loader)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def export_gguf(spec: ModelSpec, out_path: str | os.PathLike[str], *, dtype: str = "f16") -> Path:
    """Write ``spec`` (base + adapter merged) as a GGUF at ``out_path``; see the module docstring for limits."""
    from gguf import MODEL_ARCH, GGMLQuantizationType, GGUFReader, GGUFWriter, get_tensor_name_map

    if dtype not in GGUF_DTYPES:
        raise InvalidInput(f"dtype must be one of {', '.join(GGUF_DTYPES)}", details={"field": "dtype"})
    if spec.base_kind != "gguf":
        raise Unavailable(
            f"{spec.ref}: GGUF export needs a GGUF base to copy the tokenizer metadata from; llama.cpp's "
            "convert_hf_to_gguf.py (which builds it from an HF tokenizer) is not in any PyPI wheel. "
            "Run it from a llama.cpp checkout on the folder export_merged writes",
            details={"model": spec.ref},
        )
    out = Path(out_path).expanduser()
    if out.exists():
        raise InvalidInput(f"{out} exists already; choose a new path", details={"path": str(out)})
    reader = GGUFReader(spec.base)
    arch = str(reader.fields["general.architecture"].contents())
    if arch != "llama":
        raise Unavailable(
            f"{spec.ref}: GGUF export supports the llama architecture only (this base is {arch!r})",
            details={"model": spec.ref},
        )
    model, _ = _merged_model(spec)
    names = get_tensor_name_map(MODEL_ARCH.LLAMA, model.config.num_hidden_layers)
    qtype = {
        "f32": GGMLQuantizationType.F32,
        "f16": GGMLQuantizationType.F16,
        "q8_0": GGMLQuantizationType.Q8_0,
    }[dtype]
    file_type = {"f32": 0, "f16": 1, "q8_0": 7}[dtype]
    tmp = out.with_name(f".{out.name}.partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(str(tmp), arch)
    try:
        _write_gguf(writer, reader, model, names, qtype, file_type, spec.ref)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    writer.close()
    tmp.rename(out)
    return out


def _write_gguf(
    writer: Any, reader: Any, model: Any, names: Any, qtype: Any, file_type: int, ref: str
) -> None:
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFValueType
    from gguf.quants import quantize

    cfg = model.config
    for field in reader.fields.values():
        if field.name in ("general.architecture", "general.file_type") or field.name.startswith("GGUF."):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub)
    writer.add_file_type(file_type)
    tied = bool(getattr(cfg, "tie_word_embeddings", False))
    for hf_name, tensor in model.state_dict().items():
        if tied and hf_name == "lm_head.weight":
            continue
        gg_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gg_name is None:
            raise Unavailable(f"{ref}: no llama.cpp name for tensor {hf_name}", details={"tensor": hf_name})
        data = tensor.detach().float().numpy()
        if hf_name.endswith("q_proj.weight"):
            data = _permute(data, cfg.num_attention_heads)
        elif hf_name.endswith("k_proj.weight"):
            data = _permute(data, cfg.num_key_value_heads)
        if data.ndim == 1 or qtype == GGMLQuantizationType.F32:  # norms stay f32, as llama.cpp writes them
            writer.add_tensor(gg_name, np.ascontiguousarray(data, dtype=np.float32))
        elif qtype == GGMLQuantizationType.F16:
            writer.add_tensor(gg_name, data.astype(np.float16))
        else:
            writer.add_tensor(gg_name, quantize(data, qtype), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
