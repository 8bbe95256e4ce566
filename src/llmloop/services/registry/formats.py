"""What the registry learns from weights without loading them: GGUF metadata, ``config.json`` and
safetensors headers.

Registration must stay cheap (a 100 MB GGUF or a 500 MB folder is read once to hash it, never
deserialised into tensors) and must refuse what could never load: a file that is not GGUF, a
truncated file, a folder without ``config.json``, an adapter whose tensor shapes do not fit the
base. Shapes are compared on the numbers every loader agrees on (hidden size, layers, heads,
feed-forward size, vocabulary), normalised from either ``config.json`` or GGUF metadata.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmloop.errors import InvalidInput, NotFound, Unavailable

GGUF_MAGIC = b"GGUF"
HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
CHUNK = 1 << 20
# Module names of the Llama family (Llama, Mistral, Qwen2, SmolLM...): their input/output sizes are known.
LLAMA_LIKE = frozenset({"llama", "mistral", "qwen2", "qwen3", "smollm", "smollm3", "gemma", "gemma2", "phi3"})
_LAYER = re.compile(r"\.layers\.(\d+)\.")


@dataclass(frozen=True)
class Shape:
    """The sizes an adapter must agree with; any may be unknown (None) for an unusual architecture."""

    architecture: str | None = None
    hidden_size: int | None = None
    layers: int | None = None
    intermediate_size: int | None = None
    heads: int | None = None
    kv_heads: int | None = None
    head_dim: int | None = None
    vocab_size: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Shape:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class BaseInfo:
    kind: str  # hf_dir | gguf | hub | upstream
    uri: str
    sha256: str | None = None
    parameters: int | None = None
    quantization: str | None = None
    context_length: int | None = None
    chat_template: str | None = None
    license: str | None = None
    shape: Shape = field(default_factory=Shape)


@dataclass(frozen=True)
class AdapterScan:
    folder: Path
    files: list[Path]
    peft_type: str
    rank: int | None
    alpha: float | None
    target_modules: list[str]
    parameters: int


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def looks_like_path(text: str) -> bool:
    return text.startswith(("/", ".", "~")) or text.endswith(".gguf") or "\\" in text or text.count("/") != 1


def inspect_base(text: str) -> BaseInfo:
    """A local GGUF file or HF folder (read and hashed), or a hub id (recorded as named, not fetched)."""
    path = Path(text).expanduser()
    if path.is_file():
        return inspect_gguf(path)
    if path.is_dir():
        return inspect_hf_dir(path)
    if not looks_like_path(text) and HUB_ID.fullmatch(text):
        return BaseInfo("hub", text)
    what = "GGUF file" if text.endswith(".gguf") else "model folder or GGUF file"
    raise NotFound(f"base: {what} not found: {text}", details={"field": "base", "path": text})


# --- GGUF ----------------------------------------------------------------------------------------


def inspect_gguf(path: Path) -> BaseInfo:
    """Architecture, sizes, quantization, template and parameter count from a GGUF header; sha256 of the file."""
    path = path.resolve()
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic != GGUF_MAGIC:
        raise InvalidInput(
            f"base: {path} is not a GGUF file (its first bytes are {magic!r}, expected {GGUF_MAGIC!r})",
            details={"field": "base", "path": str(path)},
        )
    meta, tensors = _read_gguf(path)
    arch = str(meta.get("general.architecture") or "") or None

    def num(key: str) -> int | None:
        value = meta.get(f"{arch}.{key}")
        return int(value) if isinstance(value, (int, float)) else None

    hidden, heads = num("embedding_length"), num("attention.head_count")
    vocab = num("vocab_size") or (
        len(meta["tokenizer.ggml.tokens"]) if "tokenizer.ggml.tokens" in meta else None
    )
    shape = Shape(
        architecture=arch,
        hidden_size=hidden,
        layers=num("block_count"),
        intermediate_size=num("feed_forward_length"),
        heads=heads,
        kv_heads=num("attention.head_count_kv") or heads,
        head_dim=num("attention.key_length") or (hidden // heads if hidden and heads else None),
        vocab_size=vocab,
    )
    template = meta.get("tokenizer.chat_template")
    license_ = meta.get("general.license")
    return BaseInfo(
        kind="gguf",
        uri=str(path),
        sha256=sha256_file(path),
        parameters=sum(n for _, n in tensors),
        quantization=_gguf_quantization(meta, [t for t, _ in tensors]),
        context_length=num("context_length"),
        chat_template=str(template) if template else None,
        license=str(license_) if license_ else None,
        shape=shape,
    )


def _read_gguf(path: Path) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    """Metadata values and (tensor type, element count) per tensor; a truncated or garbled file is refused."""
    try:
        from gguf import GGUFReader
    except ImportError as e:
        raise Unavailable(
            "reading a GGUF file needs the gguf package: pip install gguf", details={"path": str(path)}
        ) from e
    try:
        reader = GGUFReader(path, "r")
        meta: dict[str, Any] = {}
        for key, fld in reader.fields.items():
            if key.startswith("tokenizer.ggml.") and key != "tokenizer.ggml.tokens":
                continue  # token arrays are large and not needed
            meta[key] = fld.contents()
        tensors = [(t.tensor_type.name, int(t.n_elements)) for t in reader.tensors]
        end = max((int(t.data_offset) + int(t.n_bytes) for t in reader.tensors), default=0)
    except (ValueError, IndexError, KeyError, struct.error, OSError, UnicodeDecodeError) as e:
        raise InvalidInput(
            f"base: {path} is a corrupt GGUF file ({type(e).__name__}: {str(e)[:200]})",
            details={"field": "base", "path": str(path)},
        ) from e
    size = path.stat().st_size
    if end > size or not tensors:
        raise InvalidInput(
            f"base: {path} is a corrupt GGUF file (truncated: its tensors need {end} bytes, the file has {size})",
            details={"field": "base", "path": str(path)},
        )
    return meta, tensors


def _gguf_quantization(meta: dict[str, Any], types: list[str]) -> str | None:
    from gguf import LlamaFileType  # importable: _read_gguf ran first

    file_type = meta.get("general.file_type")
    if isinstance(file_type, int):
        try:
            return LlamaFileType(file_type).name.removeprefix("MOSTLY_").removeprefix("ALL_").lower()
        except ValueError:
            pass
    return max(set(types), key=types.count).lower() if types else None


# --- Hugging Face folders -------------------------------------------------------------------------


def read_json(path: Path, *, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidInput(f"{what}: cannot read {path}: {e}", details={"path": str(path)}) from e
    if not isinstance(data, dict):
        raise InvalidInput(f"{what}: {path} is not a JSON object", details={"path": str(path)})
    return data


def safetensors_header(path: Path) -> dict[str, dict[str, Any]]:
    """Tensor name -> {dtype, shape} from a safetensors file's JSON header; checks the file is complete."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        n = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
        if n <= 0 or 8 + n > size:
            raise InvalidInput(
                f"{path} is not a safetensors file (bad header length)", details={"path": str(path)}
            )
        raw = fh.read(n)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidInput(f"{path} is a corrupt safetensors file ({e})", details={"path": str(path)}) from e
    header.pop("__metadata__", None)
    end = max((int(t["data_offsets"][1]) for t in header.values()), default=0)
    if 8 + n + end != size:
        raise InvalidInput(
            f"{path} is a corrupt safetensors file (its header describes {8 + n + end} bytes, the file has {size})",
            details={"path": str(path)},
        )
    return {k: {"dtype": v["dtype"], "shape": [int(d) for d in v["shape"]]} for k, v in header.items()}


def _count(shapes: Iterable[list[int]]) -> int:
    total = 0
    for shape in shapes:
        n = 1
        for d in shape:
            n *= d
        total += n
    return total


def hf_shape(config: dict[str, Any]) -> Shape:
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    assert isinstance(text, dict)

    def num(*keys: str) -> int | None:
        for k in keys:
            if isinstance(text.get(k), int):
                return int(text[k])
        return None

    hidden, heads = num("hidden_size", "n_embd", "d_model"), num("num_attention_heads", "n_head")
    return Shape(
        architecture=str(config.get("model_type") or "") or None,
        hidden_size=hidden,
        layers=num("num_hidden_layers", "n_layer"),
        intermediate_size=num("intermediate_size", "n_inner"),
        heads=heads,
        kv_heads=num("num_key_value_heads") or heads,
        head_dim=num("head_dim") or (hidden // heads if hidden and heads else None),
        vocab_size=num("vocab_size"),
    )


def weight_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file()
        and p.suffix in (".safetensors", ".bin")
        and not p.name.startswith(("adapter_", "training_"))
    )


def inspect_hf_dir(folder: Path) -> BaseInfo:
    """A transformers folder: ``config.json`` for the shape, safetensors headers for the parameter count,
    ``tokenizer_config.json`` for the chat template; sha256 over config and weight files."""
    folder = folder.resolve()
    if (folder / "adapter_config.json").is_file() and not (folder / "config.json").is_file():
        raise InvalidInput(
            f"base: {folder} holds only a LoRA adapter; pass it as adapter_dir and name its base",
            details={"field": "base", "path": str(folder)},
        )
    if not (folder / "config.json").is_file():
        raise InvalidInput(
            f"base: {folder} is not a Hugging Face model folder (no config.json)",
            details={"field": "base", "path": str(folder)},
        )
    config = read_json(folder / "config.json", what="base")
    weights = weight_files(folder)
    if not weights:
        raise InvalidInput(
            f"base: {folder} has no weight files (*.safetensors or *.bin)",
            details={"field": "base", "path": str(folder)},
        )
    shapes = [
        t["shape"] for w in weights if w.suffix == ".safetensors" for t in safetensors_header(w).values()
    ]
    h = hashlib.sha256()
    for f in [folder / "config.json", *weights]:
        h.update(f"{f.name}:{sha256_file(f)}\n".encode())
    tok = folder / "tokenizer_config.json"
    tok_config = read_json(tok, what="base") if tok.is_file() else {}
    template = tok_config.get("chat_template")
    jinja = folder / "chat_template.jinja"
    if not isinstance(template, str) and jinja.is_file():
        template = jinja.read_text(encoding="utf-8")
    quant = config.get("quantization_config")
    shape = hf_shape(config)
    context = config.get("max_position_embeddings")
    return BaseInfo(
        kind="hf_dir",
        uri=str(folder),
        sha256=h.hexdigest(),
        parameters=_count(shapes) if shapes else None,
        quantization=str(quant.get("quant_method"))
        if isinstance(quant, dict) and quant.get("quant_method")
        else None,
        context_length=int(context) if isinstance(context, int) else None,
        chat_template=template if isinstance(template, str) else None,
        shape=shape,
    )


# --- LoRA adapters --------------------------------------------------------------------------------


def _expected(module: str, s: Shape) -> tuple[int | None, int | None] | None:
    """(in_features, out_features) of a Llama-family module, or None for a name the family does not have."""
    h, i, hd = s.hidden_size, s.intermediate_size, s.head_dim
    q = s.heads * hd if s.heads and hd else None
    kv = s.kv_heads * hd if s.kv_heads and hd else None
    table: dict[str, tuple[int | None, int | None]] = {
        "q_proj": (h, q),
        "k_proj": (h, kv),
        "v_proj": (h, kv),
        "o_proj": (q, h),
        "gate_proj": (h, i),
        "up_proj": (h, i),
        "down_proj": (i, h),
        "lm_head": (h, s.vocab_size),
    }
    return table.get(module)


def inspect_adapter(folder: Path, base: Shape, *, base_label: str) -> AdapterScan:
    """Read a PEFT LoRA folder and prove its tensors fit ``base``; InvalidInput names the first misfit."""
    folder = folder.expanduser()
    if not folder.is_dir():
        raise NotFound(
            f"adapter_dir: folder not found: {folder}", details={"field": "adapter_dir", "path": str(folder)}
        )
    folder = folder.resolve()
    cfg_path = folder / "adapter_config.json"
    if not cfg_path.is_file():
        raise InvalidInput(
            f"adapter_dir: {folder} is not a PEFT adapter folder (no adapter_config.json)",
            details={"field": "adapter_dir", "path": str(folder)},
        )
    cfg = read_json(cfg_path, what="adapter_dir")
    peft_type = str(cfg.get("peft_type") or "")
    if peft_type.upper() != "LORA":
        raise InvalidInput(
            f"adapter_dir: {folder} is a {peft_type or 'unknown'} adapter; the registry stores LoRA adapters",
            details={"field": "adapter_dir", "peft_type": peft_type},
        )
    weights = folder / "adapter_model.safetensors"
    if not weights.is_file():
        hint = (
            " (adapter_model.bin is a pickle: save with safe_serialization=True)"
            if (folder / "adapter_model.bin").is_file()
            else ""
        )
        raise InvalidInput(
            f"adapter_dir: {folder} has no adapter_model.safetensors{hint}",
            details={"field": "adapter_dir", "path": str(folder)},
        )
    tensors = safetensors_header(weights)
    for name, t in tensors.items():
        _check_tensor(name, t["shape"], base, base_label=base_label, folder=folder)
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix != ".bin" and not p.name.startswith(".")
    )
    targets = cfg.get("target_modules")
    alpha = cfg.get("lora_alpha")
    return AdapterScan(
        folder=folder,
        files=files,
        peft_type="LORA",
        rank=int(cfg["r"]) if isinstance(cfg.get("r"), int) else None,
        alpha=float(alpha) if isinstance(alpha, (int, float)) else None,
        target_modules=sorted(targets) if isinstance(targets, list) else ([str(targets)] if targets else []),
        parameters=_count(t["shape"] for t in tensors.values()),
    )


def _check_tensor(name: str, shape: list[int], base: Shape, *, base_label: str, folder: Path) -> None:
    def misfit(why: str) -> InvalidInput:
        return InvalidInput(
            f"adapter_dir: {folder} was trained for a different base than {base_label}: tensor {name} {why}",
            details={"field": "adapter_dir", "tensor": name, "base": base.as_dict()},
        )

    layer = _LAYER.search(name)
    if layer is not None and base.layers is not None and int(layer.group(1)) >= base.layers:
        raise misfit(f"is in layer {layer.group(1)}, the base has {base.layers} layers")
    parts = name.split(".")
    kind = next((p for p in parts if p in ("lora_A", "lora_B")), None)
    if kind is None or len(shape) != 2:
        return  # magnitude vectors, embeddings and modules_to_save are not checked by shape
    module = parts[parts.index(kind) - 1]
    arch = (base.architecture or "").lower()
    expected = _expected(module, base)
    if expected is None:
        if arch in LLAMA_LIKE:
            raise misfit(f"adapts a module {module!r} that a {arch} model does not have")
        return
    dim, want = (shape[1], expected[0]) if kind == "lora_A" else (shape[0], expected[1])
    side = "input" if kind == "lora_A" else "output"
    if want is not None and dim != want:
        raise misfit(f"has {side} size {dim}, the base's {module} has {want}")
