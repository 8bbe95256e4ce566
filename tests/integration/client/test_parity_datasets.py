"""Datasets through both clients: same JSON, same bytes, same errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.client.conftest import Pair

from llmloop.errors import InvalidInput, NotFound, PermissionDenied
from llmloop.services.data.schemas import DatasetAdd, SplitSpec
from llmloop.services.tracking.schemas import RunCreate

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "data"
P = "parity"
COVERED = {
    "datasets.list",
    "datasets.show",
    "datasets.get_version",
    "datasets.profile",
    "datasets.profile_png",
    "datasets.rows",
    "datasets.download",
    "datasets.upload",
    "datasets.import",
    "datasets.redact",
    "datasets.dedup",
    "datasets.split",
    "datasets.record_use",
    "datasets.alias",
    "datasets.diff",
    "datasets.leakage",
}


def _add(pair: Pair, name: str, path: Path) -> None:
    pair.local.datasets.add_version(DatasetAdd(name=name, project=P, path=str(path)))


def _same_version(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Two add results for the same content in two datasets: equal but for ids, names and times, and
    ``source``: the local store records the file's path, a server only the uploaded file's name."""
    keep = (
        "kind",
        "rows",
        "invalid_rows",
        "content_hash",
        "data_sha256",
        "index_sha256",
        "profile",
    )
    assert {k: a["version"][k] for k in keep} == {k: b["version"][k] for k in keep}


def test_uploads_and_reads_agree(pair: Pair) -> None:
    a, b = pair.both(
        lambda c: c.datasets.add_version(
            DatasetAdd(name=f"up-{c.remote}", project=P, path=str(FIXTURES / "eval.jsonl"))
        )
    )
    assert a["created"] and b["created"] and a["version"]["ref"] == "up-False@1"
    _same_version(a, b)
    assert (a["version"]["source"], b["version"]["source"]) == (str(FIXTURES / "eval.jsonl"), "eval.jsonl")
    again = pair.same(
        lambda c: c.datasets.add_version(
            DatasetAdd(name="up-True", project=P, path=str(FIXTURES / "eval.jsonl"))
        )
    )
    assert again["created"] is False and again["version"]["ref"] == "up-True@1"

    listed = pair.same(lambda c: c.datasets.list_datasets(P))
    assert [d["name"] for d in listed] == ["up-False", "up-True"]
    shown = pair.same(lambda c: c.datasets.show_dataset("up-True", P))
    assert shown["version"]["ref"] == "up-True@1"
    v = pair.same(lambda c: c.datasets.get_version("up-True@1", P))
    assert pair.same(lambda c: c.datasets.get_profile("up-True", P)) == v["profile"]
    rows = pair.same(lambda c: c.datasets.get_rows("up-True@1", P, offset=1, limit=1))
    assert rows["total"] == 3 and rows["items"][0]["reference"] == "Phuket"
    png = pair.same(lambda c: c.datasets.profile_png("up-True@1", P, field="input"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"

    version = pair.local.datasets.get_version("up-True@1", P)
    data = pair.same(lambda c: [r for b in c.datasets.iter_batches(version) for r in b.to_pylist()])
    assert [r["reference"] for r in data] == ["Porto", "Phuket", "Wadi Rum"]


def test_derived_versions_agree(pair: Pair) -> None:
    _add(pair, "pii", FIXTURES / "pii.jsonl")
    a, b = pair.both(lambda c: c.datasets.redact_version("pii@1", ["email"], P))
    assert (a["created"], b["created"]) == (True, False) and a["version"] == b["version"]
    assert a["version"]["profile"]["pii"]["email"] == 0 and a["version"]["parent"] == "pii@1"
    a, b = pair.both(lambda c: c.datasets.dedup_version("pii@2", True, P))
    assert a["version"]["content_hash"] == b["version"]["content_hash"]
    spec = SplitSpec(fractions={"train": 0.5, "test": 0.5}, seed=3)
    a, b = pair.both(lambda c: c.datasets.split_version("pii@1", spec, P))
    assert a["counts"] == b["counts"] and a["versions"][0]["content_hash"] == b["versions"][0]["content_hash"]
    split_ref = b["versions"][0]["ref"]
    held = pair.same(lambda c: c.datasets.alias_version(split_ref, "clean", P))
    assert "clean" in held["aliases"]
    diff = pair.same(lambda c: c.datasets.diff_versions("pii@1", "pii@clean", P))
    assert diff["b"] == split_ref
    cross = pair.same(
        lambda c: c.datasets.diff_versions("pii@1", "up-True", P)
    )  # a bare name of another dataset
    assert cross["b"] == "up-True@1"
    assert pair.same(lambda c: c.datasets.check_leakage("pii", "pii@1", P))["exact"] > 0

    run = pair.local.runs.create_run(RunCreate(project=P, name="reads-pii"))
    assert pair.same(lambda c: c.datasets.record_use("pii@1", run.id, P)) is None


def test_bad_input_raises_the_same_class_through_both_clients(pair: Pair, tmp_path: Path) -> None:
    assert pair.same_error(lambda c: c.datasets.get_version("nope@1", P)) is NotFound
    bad = DatasetAdd(name="bad", project=P, path=str(FIXTURES / "malformed.jsonl"))
    assert pair.same_error(lambda c: c.datasets.add_version(bad)) is InvalidInput
    assert "bad" not in [d["name"] for d in pair.same(lambda c: c.datasets.list_datasets(P))]  # nothing left
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.jsonl").write_text('{"text": "x"}\n')
    spec = DatasetAdd(name="srv", project=P, path=str(folder))
    assert pair.same_error(lambda c: c.datasets.import_version(spec)) is PermissionDenied  # no import root
    assert pair.same_error(lambda c: c.datasets.get_rows("up-True@1", P, limit=0)) is InvalidInput
    assert pair.same_error(lambda c: c.datasets.profile_png("up-True@1", P, field="nope")) is NotFound
    version = pair.local.datasets.get_version("up-True@1", P)
    assert pair.same_error(lambda c: list(c.datasets.iter_batches(version, split="train"))) is NotFound
    assert (
        pair.same_error(lambda c: c.datasets.alias_version("up-True@1", "9-not-an-alias", P)) is InvalidInput
    )
    assert pair.same_error(lambda c: c.datasets.redact_version("nope", None, P)) is NotFound
    assert pair.same_error(lambda c: c.datasets.dedup_version("nope", False, P)) is NotFound
    assert pair.same_error(lambda c: c.datasets.split_version("nope", SplitSpec(), P)) is NotFound
    assert pair.same_error(lambda c: c.datasets.record_use("up-True@1", "no-such-run", P)) is NotFound
    assert pair.same_error(lambda c: c.datasets.check_leakage("up-True@1", "nope@1", P)) is NotFound
