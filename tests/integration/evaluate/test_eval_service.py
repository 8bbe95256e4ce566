"""The evaluation service on SQLite and PostgreSQL: stored examples, error rates, no half evaluations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from eval_fixtures import N_ITEMS, answering, write_suite
from sqlalchemy import func, select, update

from llmloop.errors import InvalidInput, NotFound, Unavailable
from llmloop.services.evaluate import results, service
from llmloop.services.evaluate.suite import load_suite
from llmloop.services.tracking import service as tracking
from llmloop.store.lineage import edges_of
from llmloop.store.tables.evaluations import EvaluationExampleRow, EvaluationRow
from llmloop.store.tables.tracking import RunRow


def _count(ctx: Any, table: Any) -> int:
    with ctx.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def test_run_stores_every_example_and_the_aggregates(ctx: Any, qa_suite: Path) -> None:
    ev = service.run_suite(ctx, suite=load_suite(qa_suite), model=answering(set(range(30))), project="qa")
    assert ev.status == "completed" and ev.n_examples == N_ITEMS and ev.error_rate == 0.0
    em = ev.metrics["exact_match"]
    assert em.score == pytest.approx(0.75) and em.ci_low is not None and em.ci_low < 0.75 < (em.ci_high or 0)
    assert ev.metrics["bleu"].scale == "percent" and ev.metrics["latency"].higher_is_better is False
    page = results.list_examples(ctx, evaluation_id=ev.id, limit=5)
    first = page.items[0]
    assert page.total == N_ITEMS and page.next_page_token is not None
    assert first.example_id == "q00" and first.output == "answer 0" and first.reference == ["answer 0"]
    assert first.input == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Q: What is item 0?"},
    ]
    assert (
        first.scores["exact_match"] == 1.0 and first.latency_ms is not None and first.metadata == {"n": "q00"}
    )
    nxt = results.list_examples(ctx, evaluation_id=ev.id, limit=5, page_token=page.next_page_token)
    assert nxt.items[0].example_id == "q05"
    worst = results.list_examples(ctx, evaluation_id=ev.id, limit=3, worst_first="exact_match")
    assert {x.scores["exact_match"] for x in worst.items} == {0.0}
    run = tracking.get_run(ctx, run_id=ev.run_id or "")
    assert run.kind == "eval" and run.status == "finished"
    assert run.metrics["exact_match"] == pytest.approx(0.75) and run.metrics["error_rate"] == 0.0
    with ctx.db.session() as s:
        assert any(e.src_type == "run" and e.src_id == run.id for e in edges_of(s, "evaluation", ev.id))


def test_model_errors_are_recorded_per_example_and_reported_as_error_rate(ctx: Any, qa_suite: Path) -> None:
    model = answering(set(range(N_ITEMS)), fail_on={3, 17})
    ev = service.run_suite(ctx, suite=load_suite(qa_suite), model=model)
    assert ev.status == "completed" and ev.n_errors == 2 and ev.error_rate == pytest.approx(0.05)
    assert ev.metrics["exact_match"].score == pytest.approx(
        38 / 40
    )  # a failed example scores as an empty answer
    failed = results.list_examples(ctx, evaluation_id=ev.id, errors_only=True)
    assert [x.example_id for x in failed.items] == ["q03", "q17"]
    assert failed.items[0].output is None and "model crashed on item 3" in (failed.items[0].error or "")


def test_every_example_failing_fails_the_evaluation_without_examples(ctx: Any, qa_suite: Path) -> None:
    with pytest.raises(Unavailable, match="failed on every example"):
        service.run_suite(
            ctx, suite=load_suite(qa_suite), model=answering(set(), fail_on=set(range(N_ITEMS)))
        )
    page = results.list_evaluations(ctx)
    assert [e.status for e in page.items] == ["failed"]
    assert "crashed" in (page.items[0].error or "") and page.items[0].metrics == {}
    assert _count(ctx, EvaluationExampleRow) == 0
    assert tracking.get_run(ctx, run_id=page.items[0].run_id or "").status == "failed"


def test_bad_input_fails_before_anything_is_written(ctx: Any, tmp_path: Path) -> None:
    bad_metric = write_suite(tmp_path / "b")
    bad_metric.write_text(bad_metric.read_text().replace("  - rougeL\n", "  - rougel\n"))
    with pytest.raises(InvalidInput, match="did you mean 'rougeL'"):
        service.run_suite(ctx, suite=load_suite(bad_metric), model=answering(set()))
    no_refs = write_suite(tmp_path / "c")
    no_refs.write_text(
        no_refs.read_text().replace(
            "dataset: {path: qa.jsonl}", "dataset: {path: qa.jsonl, fields: {reference: nope}}"
        )
    )
    with pytest.raises(InvalidInput, match="needs references, but 40 of 40 examples have none"):
        service.run_suite(ctx, suite=load_suite(no_refs), model=answering(set()))
    missing = write_suite(tmp_path / "d")
    (tmp_path / "d" / "qa.jsonl").unlink()
    with pytest.raises(InvalidInput, match=r"file not found: .*qa\.jsonl"):
        service.run_suite(ctx, suite=load_suite(missing), model=answering(set()))
    bad_option = write_suite(tmp_path / "e", extra="")
    bad_option.write_text(
        bad_option.read_text().replace("  - latency\n", "  - {metric: regex, options: {pattern: '('}}\n")
    )
    with pytest.raises(InvalidInput, match="invalid pattern"):
        service.run_suite(ctx, suite=load_suite(bad_option), model=answering(set()))
    assert _count(ctx, EvaluationRow) == 0 and _count(ctx, RunRow) == 0


def test_an_interrupted_run_is_marked_failed_never_completed(ctx: Any, qa_suite: Path) -> None:
    calls = {"n": 0}

    def interrupted(batch: list[Any], **params: Any) -> list[str]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return ["x"] * len(batch)

    with pytest.raises(KeyboardInterrupt):
        service.run_suite(ctx, suite=load_suite(qa_suite), model=interrupted)
    (ev,) = results.list_evaluations(ctx).items
    assert ev.status == "failed" and ev.error == "interrupted"
    assert _count(ctx, EvaluationExampleRow) == 0
    assert tracking.get_run(ctx, run_id=ev.run_id or "").status == "killed"


def test_an_evaluation_whose_process_died_is_reported_failed(ctx: Any, qa_suite: Path) -> None:
    prep = service.prepare_suite(ctx, suite=load_suite(qa_suite))
    evaluation_id, run_id = service._start(ctx, prep, model_ref="gone", model_version=None)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with ctx.db.connect() as conn:
        conn.execute(update(RunRow).where(RunRow.id == run_id).values(pid=dead.pid))
    ev = results.get_evaluation(ctx, evaluation_id=evaluation_id)
    assert ev.status == "failed" and "stopped before finishing" in (ev.error or "")
    with pytest.raises(InvalidInput, match="is failed"):
        results.example_table(ctx, evaluation_id=evaluation_id)


def test_ids_prefixes_and_filters(ctx: Any, qa_suite: Path) -> None:
    suite = load_suite(qa_suite)
    a = service.run_suite(ctx, suite=suite, model=answering(set(range(10))), project="p1")
    b = service.run_suite(ctx, suite=suite, model=answering(set(range(20))), project="p2", limit=5)
    assert results.get_evaluation(ctx, evaluation_id=a.id[:8]).id == a.id
    assert b.n_examples == 5
    with pytest.raises(InvalidInput, match="at least its first 6"):
        results.get_evaluation(ctx, evaluation_id="abc")
    with pytest.raises(NotFound):
        results.get_evaluation(ctx, evaluation_id="0" * 32)
    assert [e.id for e in results.list_evaluations(ctx, project="p1").items] == [a.id]
    assert {e.id for e in results.list_evaluations(ctx, status="completed").items} == {a.id, b.id}
    first = results.list_evaluations(ctx, limit=1)
    assert len(first.items) == 1 and first.next_page_token is not None
    assert (
        results.list_evaluations(ctx, limit=1, page_token=first.next_page_token).items[0].id
        != first.items[0].id
    )


def test_reuse_needs_a_registry_version(ctx: Any, qa_suite: Path) -> None:
    suite = load_suite(qa_suite)
    model = answering(set(range(10)))
    a = service.run_suite(ctx, suite=suite, model=model, reuse=True)
    b = service.run_suite(ctx, suite=suite, model=model, reuse=True)
    assert a.id != b.id  # a callable may have changed: never reused
    with ctx.db.connect() as conn:
        conn.execute(update(EvaluationRow).where(EvaluationRow.id == a.id).values(model_version="mv1"))
    found = results.find_evaluation(
        ctx,
        project=a.project,
        suite_sha256=suite.sha256(),
        rows_sha256=_rows_sha(ctx, a.id),
        model_version="mv1",
    )
    assert found is not None and found.id == a.id
    other_data = results.find_evaluation(
        ctx, project=a.project, suite_sha256=suite.sha256(), rows_sha256="0" * 64, model_version="mv1"
    )
    assert other_data is None


def _rows_sha(ctx: Any, evaluation_id: str) -> str:
    with ctx.db.session() as s:
        return str(s.scalar(select(EvaluationRow.rows_sha256).where(EvaluationRow.id == evaluation_id)))


def test_examples_stored_before_the_rationales_column_read_back_with_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qa_suite: Path
) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from llmloop.config import reset_settings
    from llmloop.context import local_context
    from llmloop.store.db import MIGRATIONS_DIR, migrate

    monkeypatch.setenv("LLMLOOP_DATABASE_URL", f"sqlite:///{tmp_path / 'old.db'}")
    reset_settings()
    ctx = local_context()
    ev = service.run_suite(ctx, suite=load_suite(qa_suite), model=answering({0}))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with ctx.db.engine.begin() as conn:  # back to the schema before 0016: the column goes
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007_evaluations")
    columns = {c["name"] for c in inspect(ctx.db.engine).get_columns("evaluation_examples")}
    assert "rationales" not in columns and "scores" in columns
    migrate(ctx.db.engine)  # what opening the store with this llmloop does
    first = results.list_examples(ctx, evaluation_id=ev.id, limit=1).items[0]
    assert first.rationales == {} and first.scores["exact_match"] == 1.0
