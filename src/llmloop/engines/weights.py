"""Model weights on disk: GGUF checks, and GGUF dequantised once into a cached transformers folder.

transformers can read a GGUF, but it dequantises every tensor (11 s for SmolLM2-135M), so the
result is saved once as a plain HF folder keyed by the GGUF's digest and reloaded from
safetensors afterwards (0.05 s). Two traps handled here: the loaded model keeps a GGUF
"quantized" flag that blocks ``save_pretrained`` (``remove_quantization_config`` clears it),
and two processes may build the same folder at once (a file lock, a temporary folder, then
one atomic rename: a reader never sees half a folder).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llmloop.errors import DataCorrupted, NotFound

GGUF_MAGIC = b"GGUF"
_DONE = ".llmloop-complete"
_digests: dict[tuple[str, int, int], str] = {}


def model_cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where derived weights (dequantised GGUF, merges) live: ``cache_dir`` or ``$LLMLOOP_HOME/cache/models``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    from llmloop.config import get_settings

    return get_settings().home / "cache" / "models"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_gguf(path: str | os.PathLike[str], sha256: str | None = None) -> str:
    """The GGUF's sha256 after checking it is whole: ``NotFound`` if absent, ``DataCorrupted`` if not.

    Checks the magic bytes, that the header parses and every tensor lies inside the file
    (a truncated download fails here, not deep inside an engine), and ``sha256`` when given.
    The digest is remembered per (path, size, mtime) so repeated loads do not rehash 100 MB.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise NotFound(f"GGUF file {p} does not exist", details={"file": str(p)})
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    digest = _digests.get(key)
    if digest is None:
        with p.open("rb") as f:
            if f.read(4) != GGUF_MAGIC:
                raise DataCorrupted(f"{p} is not a GGUF file (bad magic bytes)", details={"file": str(p)})
        _check_tensors(p, st.st_size)
        digest = sha256_file(p)
        _digests[key] = digest
    if sha256 is not None and digest != sha256.lower():
        raise DataCorrupted(
            f"{p}: sha256 {digest[:16]}... does not match the recorded {sha256[:16]}... (file changed or corrupt)",
            details={"file": str(p), "expected": sha256, "actual": digest},
        )
    return digest


def _check_tensors(p: Path, size: int) -> None:
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(p))
        end = max((int(t.data_offset) + int(t.n_bytes) for t in reader.tensors), default=0)
    except Exception as e:  # the reader raises many kinds on a damaged header
        raise DataCorrupted(
            f"{p}: GGUF header is damaged ({type(e).__name__}: {str(e)[:200]})", details={"file": str(p)}
        ) from None
    if end > size:
        raise DataCorrupted(
            f"{p} is truncated: its tensors need {end} bytes but the file has {size}",
            details={"file": str(p)},
        )


def gguf_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Scalar and string fields of a GGUF header (architecture, context length, chat template...)."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    out: dict[str, Any] = {}
    for name, field in reader.fields.items():
        if name.startswith("tokenizer.ggml.") and name not in ("tokenizer.ggml.model",):
            continue
        try:
            out[name] = field.contents()
        except Exception:  # pragma: no cover - exotic field types are skipped
            continue
    return out


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock across processes (and threads: each holder opens its own descriptor)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def is_built(folder: Path) -> bool:
    return (folder / _DONE).is_file()


def build_once(target: Path, build: Any) -> Path:
    """``target`` built by ``build(tmp_folder)`` exactly once, atomically, whoever asks concurrently."""
    if is_built(target):
        return target
    with file_lock(target.with_name(target.name + ".lock")):
        if is_built(target):
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            build(tmp)
            (tmp / _DONE).write_text("ok\n")
            if target.exists():  # a half folder from a crashed builder of an older version
                shutil.rmtree(target)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def gguf_to_hf_dir(
    gguf_path: str | os.PathLike[str], digest: str, cache_root: str | os.PathLike[str]
) -> Path:
    """A saved HF folder (fp32 weights + tokenizer + chat template) dequantised from the GGUF, built once."""
    src = Path(gguf_path)
    target = Path(cache_root) / "hf" / digest

    def build(tmp: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name, dtype=torch.float32)
        quantizer = getattr(model, "hf_quantizer", None)
        if quantizer is not None:
            quantizer.remove_quantization_config(model)
        tok = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
        model.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))

    target.parent.mkdir(parents=True, exist_ok=True)
    return build_once(target, build)


def load_tokenizer(folder: str | os.PathLike[str]) -> Any:
    """The tokenizer saved in an HF folder (with its chat template), left-padding for batched generation."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    tok.padding_side = "left"
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok
