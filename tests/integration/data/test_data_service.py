"""The data service on a real store (SQLite and PostgreSQL): versions, dedup, diff, derive, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from llmloop.errors import InvalidInput, NotFound, PermissionDenied
from llmloop.security.rbac import Actor
from llmloop.services.data import service
from llmloop.services.data.schemas import DatasetAdd, SplitSpec
from llmloop.store.lineage import Edge, edges_of

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "data"


def add(ctx: Any, path: Path | str, name: str = "travel", **kw: Any) -> Any:
    return service.add_version(ctx, spec=DatasetAdd(name=name, path=str(path), **kw))


def write_pc(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"prompt": p, "completion": c}) + "\n" for p, c in rows))
    return path


def leftovers(ctx: Any) -> list[Path]:
    return [p for p in (ctx.settings.home / "tmp").rglob("*") if p.is_file()]


def test_add_and_read_back(ctx: Any) -> None:
    result = add(ctx, FIXTURES / "chat.jsonl")
    v = result.version
    assert result.created and (v.ref, v.kind, v.rows, v.format) == ("travel@1", "chat", 4, "jsonl")
    table = service.read_table(ctx, service.get_version(ctx, ref="travel@1"))
    assert table.column("messages").to_pylist()[1][0] == {
        "role": "user",
        "content": "A warm beach in December?",
    }
    assert v.profile.chat is not None and v.profile.chat.role_counts["assistant"] == 4


def test_identical_content_is_the_same_version(ctx: Any, tmp_path: Path) -> None:
    first = add(ctx, FIXTURES / "chat.jsonl")
    again = add(ctx, FIXTURES / "chat.jsonl")  # same bytes: found by fingerprint
    rows = [json.loads(line) for line in (FIXTURES / "chat.jsonl").read_text().splitlines()]
    (tmp_path / "same.json").write_text(json.dumps(rows, indent=1))  # same rows, other format
    other = add(ctx, tmp_path / "same.json")
    assert (again.created, other.created) == (False, False)
    assert first.version.id == again.version.id == other.version.id
    assert [d.versions for d in service.list_datasets(ctx)] == [1]


def test_version_numbers_aliases_and_references(ctx: Any, tmp_path: Path) -> None:
    add(ctx, write_pc(tmp_path / "a.jsonl", [("p1", "c1")]))
    add(ctx, write_pc(tmp_path / "b.jsonl", [("p1", "c1"), ("p2", "c2")]))
    service.alias_version(ctx, ref="travel@1", alias="prod")
    assert service.get_version(ctx, ref="travel@prod").version == 1
    assert service.get_version(ctx, ref="travel").version == 2
    assert service.get_version(ctx, ref="travel@1").aliases == ["prod"]
    show = service.show_dataset(ctx, ref="travel")
    assert [v.version for v in show.versions] == [2, 1] and show.dataset.aliases == {"prod": 1}
    with pytest.raises(NotFound):
        service.get_version(ctx, ref="travel@9")
    with pytest.raises(NotFound):
        service.get_version(ctx, ref="nope")


def test_diff_by_row_hash(ctx: Any, tmp_path: Path) -> None:
    add(ctx, write_pc(tmp_path / "a.jsonl", [("keep", "same"), ("edit", "old answer"), ("drop", "gone")]))
    add(ctx, write_pc(tmp_path / "b.jsonl", [("keep", "same"), ("edit", "new answer"), ("new", "row")]))
    d = service.diff_versions(ctx, a="travel@1", b="travel@2")
    assert (d.added, d.removed, d.changed, d.unchanged) == (1, 1, 1, 1)
    assert d.examples.changed == [(1, 1)] and d.examples.added == [2] and d.examples.removed == [2]


def test_redaction_makes_a_child_version_with_lineage(ctx: Any) -> None:
    parent = add(ctx, FIXTURES / "pii.jsonl").version
    assert parent.profile.pii == {
        "email": 1, "phone": 1, "credit_card": 1, "iban": 1, "ip": 1, "national_id": 1, "secret": 1,
    }  # fmt: skip
    child = service.redact_version(ctx, ref="travel@1").version
    assert (child.ref, child.parent, child.relation, child.pii_total) == (
        "travel@2",
        "travel@1",
        "redacted",
        0,
    )
    texts = service.read_table(ctx, child).column("text").to_pylist()
    assert texts[0] == "Contact Ana at <EMAIL> or <PHONE>."
    assert "4111 1111 1111 1112" in texts[2]  # the Luhn-invalid number is not a card
    with ctx.db.session() as s:
        assert Edge("dataset_version", parent.id, "redacted", "dataset_version", child.id) in edges_of(
            s, "dataset_version", child.id
        )
    assert service.redact_version(ctx, ref="travel@2").version.ref == "travel@2"  # nothing left to redact


def test_split_into_a_column_and_into_datasets(ctx: Any, tmp_path: Path) -> None:
    rows = [(f"question {i}", f"answer {i}") for i in range(200)]
    add(ctx, write_pc(tmp_path / "a.jsonl", rows))
    result = service.split_version(ctx, ref="travel@1", spec=SplitSpec(seed=1))
    v = result.versions[0]
    assert v.ref == "travel@2" and v.parent == "travel@1" and v.relation == "split"
    assert sum(result.counts.values()) == 200 and v.splits == result.counts
    assert all(p.exact == 0 and p.key == 0 for p in result.leakage)
    test_rows = service.read_table(ctx, v, split="test")
    assert test_rows.num_rows == result.counts["test"]
    apart = service.split_version(ctx, ref="travel@1", spec=SplitSpec(seed=1, into="datasets"))
    assert [x.ref for x in apart.versions] == ["travel-train@1", "travel-validation@1", "travel-test@1"]
    assert [x.rows for x in apart.versions] == [result.counts[k] for k in ("train", "validation", "test")]
    leak = service.check_leakage(ctx, a="travel-train@1", b="travel-test@1")
    assert (leak.exact, leak.key) == (0, 0)
    assert service.check_leakage(ctx, a="travel@1", b="travel-test@1").exact == result.counts["test"]


def test_split_is_stable_when_rows_are_added(ctx: Any, tmp_path: Path) -> None:
    base = [(f"q{i}", f"a{i}") for i in range(300)]
    add(ctx, write_pc(tmp_path / "a.jsonl", base))
    add(ctx, write_pc(tmp_path / "b.jsonl", base + [(f"new{i}", "x") for i in range(100)]))
    first = service.split_version(ctx, ref="travel@1", spec=SplitSpec(seed=5)).versions[0]
    second = service.split_version(ctx, ref="travel@2", spec=SplitSpec(seed=5)).versions[0]
    a = service.read_table(ctx, first).column("split").to_pylist()
    b = service.read_table(ctx, second).column("split").to_pylist()
    assert a == b[:300]


@pytest.mark.parametrize(
    "name",
    [
        "malformed.jsonl",
        "wrong_type.jsonl",
        "mixed.jsonl",
        "empty.jsonl",
        "broken_quote.csv",
        "invalid_utf8.jsonl",
    ],
)
def test_bad_input_registers_nothing(ctx: Any, name: str) -> None:
    with pytest.raises(InvalidInput, match=rf"{name}(:\d+)?: "):
        add(ctx, FIXTURES / name)
    assert service.list_datasets(ctx) == []
    assert leftovers(ctx) == []


def test_skip_invalid_records_the_count(ctx: Any) -> None:
    v = add(ctx, FIXTURES / "malformed.jsonl", skip_invalid=True).version
    assert (v.rows, v.invalid_rows, v.profile.invalid_rows) == (3, 1, 1)
    assert ":3: malformed JSON" in v.options["skipped"][0]


def test_pii_block_refuses_and_warn_allows(ctx: Any) -> None:
    with pytest.raises(InvalidInput, match=r"PII found \(1 email, 1 phone, .*--pii=block") as e:
        add(ctx, FIXTURES / "pii.jsonl", pii="block")
    assert e.value.details["fields"]["text"]["credit_card"] == 1
    assert service.list_datasets(ctx) == []
    assert add(ctx, FIXTURES / "pii.jsonl").created
    with pytest.raises(InvalidInput, match="PII found"):  # the existing version holds PII too
        add(ctx, FIXTURES / "pii.jsonl", pii="block")


def test_interrupted_add_leaves_no_half_version(ctx: Any) -> None:
    def interrupt(done: int, total: int | None) -> None:
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        service.add_version(
            ctx, spec=DatasetAdd(name="travel", path=str(FIXTURES / "chat.jsonl")), progress=interrupt
        )
    assert service.list_datasets(ctx) == []
    assert leftovers(ctx) == []
    assert list(ctx.artifacts.iter_hashes()) == []


def test_reading_inside_a_run_links_the_run(ctx: Any) -> None:
    from llmloop.services.tracking import service as tracking
    from llmloop.services.tracking.schemas import RunCreate

    v = add(ctx, FIXTURES / "eval.jsonl").version
    run = tracking.create_run(ctx, spec=RunCreate(project="default", name="eval"))
    service.record_use(ctx, ref="travel@1", run_id=run.id)
    with ctx.db.session() as s:
        assert Edge("dataset_version", v.id, "input_to", "run", run.id) in edges_of(s, "run", run.id)
    with pytest.raises(NotFound):
        service.record_use(ctx, ref="travel@1", run_id="nope")


def test_viewers_read_but_do_not_write(ctx: Any) -> None:
    add(ctx, FIXTURES / "text.jsonl")
    viewer = ctx.as_actor(Actor(id="val", roles={"default": "viewer"}))
    assert service.get_version(viewer, ref="travel").rows == 3
    with pytest.raises(PermissionDenied):
        service.add_version(viewer, spec=DatasetAdd(name="travel", path=str(FIXTURES / "chat.jsonl")))
    outsider = ctx.as_actor(Actor(id="eve", roles={"other": "admin"}))
    assert service.list_datasets(outsider) == []


def test_server_side_import_stays_inside_its_root(
    ctx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(FIXTURES / "text.jsonl", root / "ok.jsonl")
    (root / "escape.jsonl").symlink_to(FIXTURES / "chat.jsonl")
    spec = DatasetAdd(name="travel", path="ok.jsonl")
    with pytest.raises(PermissionDenied, match="server-side import is disabled"):
        service.import_version(ctx, spec=spec)
    monkeypatch.setenv("LLMLOOP_DATA_IMPORT_ROOT", str(root))
    assert service.import_version(ctx, spec=spec).version.source == "ok.jsonl"
    for bad in (
        "../root/../../etc/passwd",
        str(FIXTURES / "chat.jsonl"),
        "escape.jsonl",
        "*.jsonl",
        "s3://b/x.jsonl",
    ):
        with pytest.raises((PermissionDenied, InvalidInput)):
            service.import_version(ctx, spec=spec.model_copy(update={"path": bad}))
    assert service.get_version(ctx, ref="travel").version == 1


def test_export_round_trips_to_the_same_version(ctx: Any, tmp_path: Path) -> None:
    add(ctx, FIXTURES / "eval.jsonl")
    service.split_version(ctx, ref="travel@1", spec=SplitSpec(fractions={"train": 0.5, "test": 0.5}))
    for fmt in ("jsonl", "csv", "parquet"):
        out = service.export_version(ctx, ref="travel@2", dest=tmp_path / f"out.{fmt}", fmt=fmt)  # type: ignore[arg-type]
        again = add(ctx, out)
        assert (again.created, again.version.ref) == (False, "travel@2"), fmt
    only = service.export_version(ctx, ref="travel@2", dest=tmp_path / "train.jsonl", split="train")
    assert all("split" not in json.loads(line) for line in only.read_text().splitlines())


def test_dedup_keeps_first_of_each_group(ctx: Any, tmp_path: Path) -> None:
    add(
        ctx,
        write_pc(
            tmp_path / "a.jsonl", [("Hi", "there"), ("Hi", "there"), ("hi", "There!"), ("other", "row")]
        ),
    )
    v = service.get_version(ctx, ref="travel@1")
    assert (v.profile.duplicates.exact_rows, v.profile.duplicates.near_rows) == (1, 2)
    exact = service.dedup_version(ctx, ref="travel@1").version
    near = service.dedup_version(ctx, ref="travel@1", near=True).version
    assert (exact.rows, near.rows) == (3, 2)
    assert near.parent == "travel@1" and near.relation == "deduplicated"
