"""LoRA adapter files: a clean copy for the registry, and two adapters stacked into one, exactly.

DPO after SFT trains a second adapter on top of the base with the SFT adapter merged in. The
registry stores one adapter per version, so the two are stacked: for every adapted weight,

    dW = s1 * B1 A1 + s2 * B2 A2 = [s1 B1 | s2 B2] [A1 ; A2]

which is one LoRA of rank r1 + r2 with scale 1 (alpha = rank). It is exact (no SVD truncation),
and a module adapted by only one of the two gets zero rows/columns from the other.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from llmloop.errors import InvalidInput

KEEP = ("adapter_config.json", "adapter_model.safetensors")


def clean_copy(folder: Path, out: Path) -> Path:
    """Only the adapter's config and weights (no tokenizer copies, no pickled training arguments)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in KEEP:
        if not (folder / name).is_file():
            raise InvalidInput(
                f"{folder} is not a LoRA adapter folder (no {name})", details={"path": str(folder)}
            )
        shutil.copyfile(folder / name, out / name)
    return out


def _load(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from safetensors.torch import load_file

    config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    if str(config.get("peft_type", "")).upper() != "LORA":
        raise InvalidInput(f"{folder}: only LoRA adapters can be stacked", details={"path": str(folder)})
    if (
        config.get("use_rslora")
        or config.get("use_dora")
        or config.get("rank_pattern")
        or config.get("alpha_pattern")
    ):
        raise InvalidInput(
            f"{folder}: rsLoRA, DoRA or per-module ranks cannot be stacked exactly",
            details={"path": str(folder)},
        )
    return config, load_file(str(folder / "adapter_model.safetensors"))


def _scale(config: dict[str, Any]) -> float:
    return float(config["lora_alpha"]) / float(config["r"])


def _modules(weights: dict[str, Any]) -> set[str]:
    return {k.rsplit(".lora_A.", 1)[0] for k in weights if ".lora_A." in k}


def stack_adapters(first: Path, second: Path, out: Path) -> Path:
    """One adapter equal to applying ``first`` then ``second`` (both LoRA on the same base)."""
    import torch
    from safetensors.torch import save_file

    cfg1, w1 = _load(first)
    cfg2, w2 = _load(second)
    r1, r2 = int(cfg1["r"]), int(cfg2["r"])
    s1, s2 = _scale(cfg1), _scale(cfg2)
    stacked: dict[str, Any] = {}
    for module in sorted(_modules(w1) | _modules(w2)):
        a1, b1 = w1.get(f"{module}.lora_A.weight"), w1.get(f"{module}.lora_B.weight")
        a2, b2 = w2.get(f"{module}.lora_A.weight"), w2.get(f"{module}.lora_B.weight")
        ref_a = a1 if a1 is not None else a2
        ref_b = b1 if b1 is not None else b2
        assert ref_a is not None and ref_b is not None
        in_f, out_f = ref_a.shape[1], ref_b.shape[0]
        a1 = a1 if a1 is not None else torch.zeros(r1, in_f, dtype=ref_a.dtype)
        b1 = b1 if b1 is not None else torch.zeros(out_f, r1, dtype=ref_b.dtype)
        a2 = a2 if a2 is not None else torch.zeros(r2, in_f, dtype=ref_a.dtype)
        b2 = b2 if b2 is not None else torch.zeros(out_f, r2, dtype=ref_b.dtype)
        if a1.shape[1] != a2.shape[1] or b1.shape[0] != b2.shape[0]:
            raise InvalidInput(
                f"adapters {first} and {second} adapt {module} with different shapes: not the same base",
                details={"module": module},
            )
        stacked[f"{module}.lora_A.weight"] = torch.cat([a1, a2], dim=0).contiguous()
        stacked[f"{module}.lora_B.weight"] = torch.cat([b1 * s1, b2 * s2], dim=1).contiguous()
    targets = sorted(set(_names(cfg1)) | set(_names(cfg2)))
    config = {
        **cfg1,
        "r": r1 + r2,
        "lora_alpha": r1 + r2,
        "target_modules": targets,
        "layers_to_transform": _blocks(cfg1, cfg2),
        "lora_dropout": 0.0,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")
    save_file(stacked, str(out / "adapter_model.safetensors"))
    return out


def _names(config: dict[str, Any]) -> list[str]:
    targets = config.get("target_modules") or []
    return [targets] if isinstance(targets, str) else list(targets)


def _blocks(cfg1: dict[str, Any], cfg2: dict[str, Any]) -> list[int] | None:
    """The blocks the stacked adapter covers: every block if either adapter covers every block
    (``layers_to_transform`` unset), else the union (``lora.top_layers`` can differ between turns)."""
    first, second = cfg1.get("layers_to_transform"), cfg2.get("layers_to_transform")
    if first is None or second is None:
        return None
    blocks = {first} if isinstance(first, int) else set(first)
    blocks |= {second} if isinstance(second, int) else set(second)
    return sorted(blocks)
