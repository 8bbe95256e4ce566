"""The training config: every error names its key path; unknown keys suggest the closest valid key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from llmloop.errors import InvalidInput
from llmloop.services.train.config import TrainConfig, flatten, load_config, parse_config, to_yaml
from llmloop.services.train.sweep_config import load_sweep

BASE: dict[str, Any] = {"name": "t", "model": {"base": "/m"}, "data": {"train": "/d/train.jsonl"}}


def with_(**sections: Any) -> dict[str, Any]:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in BASE.items()}
    for key, value in sections.items():
        out[key] = {**out.get(key, {}), **value} if isinstance(value, dict) else value
    return out


def error_of(raw: dict[str, Any]) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        parse_config(raw, source="sft.yaml")
    return info.value


@pytest.mark.parametrize(
    ("raw", "key", "guess"),
    [
        (with_(training={"lr": 1e-4}), "training.lr", "training.learning_rate"),
        (with_(training={"learning_rat": 1e-4}), "training.learning_rat", "training.learning_rate"),
        (with_(lora={"rank": 8}), "lora.rank", "lora.r"),
        (with_(training={"epochs": 2}), "training.epochs", "training.num_epochs"),
        (with_(methd="sft"), "methd", "method"),
        (with_(data={"train": {"pth": "x.jsonl"}}), "data.train.pth", "data.train.path"),
    ],
)
def test_unknown_key_names_path_and_suggests(raw: dict[str, Any], key: str, guess: str) -> None:
    err = error_of(raw)
    assert err.details["key"] == key
    assert err.details["did_you_mean"] == guess
    assert f"unknown key '{key}'" in err.message and f"did you mean '{guess}'" in err.message
    assert err.message.startswith("sft.yaml: ")


def test_unknown_key_without_close_match_lists_valid_keys() -> None:
    err = error_of(with_(lora={"zzzzzz": 1}))
    assert err.details["key"] == "lora.zzzzzz" and "did_you_mean" not in err.details
    assert "valid keys here: alpha, dropout, enabled, quantization, r, target_modules" in err.message


@pytest.mark.parametrize(
    ("raw", "key", "fragment"),
    [
        (with_(training={"batch_size": "eight"}), "training.batch_size", "valid integer"),
        (with_(training={"learning_rate": -1}), "training.learning_rate", "greater than 0"),
        (with_(method="ppo"), "method", "'sft', 'dpo' or 'distill'"),
        (with_(lora={"dropout": 1.5}), "lora.dropout", "less than 1"),
        (with_(data={"train": 5}), "data.train", "dictionary"),
        (with_(data={"train": {"ref": "a@1", "path": "b.jsonl"}}), "data.train", "exactly one of"),
    ],
)
def test_wrong_values_name_the_key(raw: dict[str, Any], key: str, fragment: str) -> None:
    err = error_of(raw)
    assert err.details["key"] == key
    assert f"sft.yaml: {key}: " in err.message and fragment in err.message


def test_a_missing_key_is_named_as_in_every_config_file() -> None:
    err = error_of({"name": "t", "data": {"train": "x.jsonl"}})
    assert (err.message, err.details) == (
        "sft.yaml: missing key 'model'",
        {"file": "sft.yaml", "key": "model"},
    )


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (with_(training={"num_epochs": 2, "max_steps": 5}), "training.max_steps"),
        ({"name": "t", "model": {"base": "/m"}}, "data.train"),
        ({"name": "t", "method": "distill", "model": {"base": "/m"}}, "distill"),
        (with_(training={"early_stopping_patience": 2, "eval_steps": 5}), "training.early_stopping_patience"),
        (
            with_(
                data={"eval": "e.jsonl"},
                training={"early_stopping_patience": 2, "eval_steps": 5, "save_steps": 7},
            ),
            "training.save_steps",
        ),
        (with_(method="dpo", training={"packing": True}), "training.packing"),
    ],
)
def test_rules_across_keys_name_the_key(raw: dict[str, Any], key: str) -> None:
    assert error_of(raw).details["key"] == key


def test_strings_become_refs_or_paths() -> None:
    cfg = parse_config(with_(data={"train": "travel-sft@2", "eval": "data/eval.jsonl"}))
    assert cfg.data.train is not None and cfg.data.train.ref == "travel-sft@2" and cfg.data.train.path is None
    assert cfg.data.eval is not None and cfg.data.eval.path == "data/eval.jsonl"


def test_yaml_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "cfg").mkdir()
    f = tmp_path / "cfg" / "sft.yaml"
    f.write_text(
        "name: t\nmodel: {base: ../model}\ndata:\n  train: data/train.jsonl\n  eval: travel-eval@1\n"
    )
    cfg = load_config(f)
    assert cfg.data.train is not None and cfg.data.train.path == str(
        tmp_path / "cfg" / "data" / "train.jsonl"
    )
    assert cfg.model.base == str(tmp_path / "model")
    assert cfg.data.eval is not None and cfg.data.eval.ref == "travel-eval@1"


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("name: t\nmodel:\n  base: [unclosed\n")
    with pytest.raises(InvalidInput) as info:
        load_config(f)
    assert info.value.details["file"] == str(f) and info.value.details["line"] >= 3
    assert "not valid YAML" in info.value.message


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(InvalidInput, match="is empty"):
        load_config(tmp_path / "empty.yaml")


def test_overrides_are_key_paths_checked_like_the_file() -> None:
    cfg = parse_config(BASE, overrides={"training.max_steps": 7, "lora.r": 4, "data.train.split": "train"})
    assert cfg.training.max_steps == 7 and cfg.lora.r == 4
    assert (
        cfg.data.train is not None
        and cfg.data.train.split == "train"
        and cfg.data.train.path == "/d/train.jsonl"
    )
    with pytest.raises(InvalidInput) as info:
        parse_config(BASE, overrides={"training.max_step": 7})
    assert info.value.details == {
        "file": "config",
        "key": "training.max_step",
        "did_you_mean": "training.max_steps",
    }
    with pytest.raises(InvalidInput, match="takes a value, not keys"):
        parse_config(BASE, overrides={"training.max_steps.x": 1})


def test_defaults_are_documented_and_round_trip() -> None:
    for section in TrainConfig.model_fields.values():
        assert section.description
    cfg = parse_config(BASE)
    assert cfg.training.gradient_checkpointing is False  # STACK trap 3: TRL's default is on
    assert cfg.effective_batch == cfg.training.batch_size * cfg.training.gradient_accumulation_steps
    for one in (cfg, parse_config(BASE, overrides={"training.max_steps": 9})):
        assert parse_config(yaml.safe_load(to_yaml(one))) == one
    assert flatten(cfg)["training.learning_rate"] == cfg.training.learning_rate


def test_sweep_config_checks_space_keys(tmp_path: Path) -> None:
    (tmp_path / "sft.yaml").write_text("name: t\nmodel: {base: /m}\ndata: {train: t.jsonl, eval: e.jsonl}\n")
    f = tmp_path / "sweep.yaml"
    f.write_text(
        "name: s\ntrain: sft.yaml\nspace:\n  training.learnin_rate: {type: float, low: 1.0e-5, high: 1.0e-3}\n"
    )
    with pytest.raises(InvalidInput) as info:
        load_sweep(f)
    assert info.value.details["did_you_mean"] == "training.learning_rate"
    f.write_text("name: s\ntrain: sft.yaml\nspace:\n  lora.r: {type: int, low: 8, high: 4}\n")
    with pytest.raises(InvalidInput, match=r"space\.lora\.r: a int parameter needs low < high"):
        load_sweep(f)
    f.write_text("name: s\ntrain: sft.yaml\nspace:\n  lora.r: {type: categorical, choices: [4, 8]}\n")
    sweep = load_sweep(f)
    cfg = sweep.trial_config({"lora.r": 8}, trial="3")
    assert cfg.lora.r == 8 and cfg.name == "s-t3" and cfg.register_model is False


def test_the_shipped_travel_configs_load() -> None:
    root = Path(__file__).resolve().parents[3] / "examples" / "travel"
    sft = load_config(root / "sft.yaml")
    assert sft.method == "sft" and sft.model.base == "smollm2-135m-instruct" and sft.lora.r == 16
    assert sft.data.train is not None and sft.data.train.path == str(root / "data" / "sft.jsonl")
    dpo = load_config(root / "dpo.yaml")
    assert dpo.method == "dpo" and dpo.model.base == "travel-sft" and dpo.data.eval_fraction == 0.1
    sweep = load_sweep(root / "sweep.yaml")
    assert set(sweep.config.space) == {"training.learning_rate", "lora.r"}
    trial = sweep.trial_config({"training.learning_rate": 1e-4, "lora.r": 4}, trial="0")
    assert trial.training.max_steps == 12 and trial.training.save_steps is None and trial.lora.r == 4
