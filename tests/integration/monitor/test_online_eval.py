"""Online evaluation on a real store: sampled traces scored once, windowed by a monitor, bad config refused."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from tests.integration.monitor.traffic import record

from llmloop.errors import InvalidInput, NotFound
from llmloop.security import audit
from llmloop.services.monitor import online, service
from llmloop.services.monitor.schemas import MonitorCreate, MonitoringConfig, OnlineEvaluatorCreate
from llmloop.services.schedules import service as schedules
from llmloop.services.schedules.jobs import job_kind
from llmloop.services.schedules.schemas import ScheduleCreate
from llmloop.services.serve.feedback import create_feedback
from llmloop.services.serve.schemas import FeedbackCreate

P = "live"

JUDGE = """
def grade(batch, **params):
    # 5 for an answer that names Lisbon, 2 otherwise; the rubric puts the answer after 'Assistant's answer:'
    return ["Score: 5" if "Lisbon" in m[-1]["content"].split("Assistant's answer:")[1] else "Score: 2"
            for m in batch]
"""


def _evaluator(**over: Any) -> OnlineEvaluatorCreate:
    body: dict[str, Any] = {
        "name": "json",
        "project": P,
        "sample_rate": 1.0,
        "metrics": [{"kind": "json_valid"}],
    }
    return OnlineEvaluatorCreate.model_validate({**body, **over})


def _traffic(ctx: Any, n: int, *, project: str = P, at: float | None = None) -> list[str]:
    """``n`` traces, the even ones answering valid JSON."""
    t0 = (at or time.time()) - 60
    return [
        record(
            ctx, project=project, at=t0 + i, answer='{"city": "Lisbon"}' if i % 2 == 0 else "Lisbon, in May"
        )
        for i in range(n)
    ]


def test_sampling_is_a_deterministic_hash_of_the_trace_id_and_nests_across_rates() -> None:
    ids = [f"{i:032x}" for i in range(2000)]
    half = {t for t in ids if online.sampled(t, 0.5)}
    assert half == {t for t in ids if online.sampled(t, 0.5)}  # a rerun picks the same traces
    assert 900 < len(half) < 1100
    tenth = {t for t in ids if online.sampled(t, 0.1)}
    assert tenth < half and 150 < len(tenth) < 250  # raising the rate only adds traces
    assert not any(online.sampled(t, 0.0) for t in ids) and all(online.sampled(t, 1.0) for t in ids)


def test_json_validity_scores_each_sampled_trace_once_and_a_monitor_windows_the_mean(ctx: Any) -> None:
    traces = _traffic(ctx, 10)
    online.create_evaluator(ctx, spec=_evaluator())
    first = online.run_online(ctx, project=P)
    (p,) = first.passes
    assert (p.seen, p.sampled, p.scored, p.version) == (10, 10, {"json_valid": 5 * 2}, 1)
    again = online.run_online(ctx, project=P)  # idempotent: nothing new to score
    assert again.passes[0].scored == {"json_valid": 0}
    scores = online.list_scores(ctx, project=P, trace_id=traces[0])
    assert [(x.metric, x.score, x.source) for x in scores] == [("json_valid", 1.0, "online-eval")]
    assert online.list_scores(ctx, project=P, trace_id=traces[1])[0].score == 0.0
    events = audit.list_events(ctx, action="online_eval.*", project=P)
    assert [e.action for e in events] == ["online_eval.scored", "online_eval.put"]  # one per scoring pass

    service.create_monitor(ctx, spec=MonitorCreate(name="json-ok", project=P, metric="online:json_valid",
                                                   window_s=600))  # fmt: skip
    (result,) = service.run_monitors(ctx, project=P).results
    assert result.status == "ok" and result.value == pytest.approx(0.5)
    assert set(result.trace_ids) == set(traces[1::2])  # the invalid answers drive the figure
    service.create_monitor(
        ctx, spec=MonitorCreate(name="judge", project=P, metric="online:judge", window_s=600)
    )
    empty = service.run_monitors(ctx, project=P, monitor="judge").results[0]
    assert empty.status == "empty" and "online scores 'judge'" in empty.message


def test_a_pass_is_bounded_and_drains_the_backlog_oldest_first(ctx: Any) -> None:
    traces = _traffic(ctx, 7)
    online.create_evaluator(ctx, spec=_evaluator(max_per_pass=3))
    counts = [online.run_online(ctx, project=P).passes[0].scored["json_valid"] for _ in range(4)]
    assert counts == [3, 3, 1, 0]
    assert online.list_scores(ctx, project=P, trace_id=traces[0])[0].created_at <= (
        online.list_scores(ctx, project=P, trace_id=traces[6])[0].created_at
    )


def test_a_task_metric_waits_for_a_correction_then_scores_against_it(ctx: Any) -> None:
    traces = _traffic(ctx, 3)
    spec = _evaluator(name="task", metrics=[{"kind": "task", "metric": "exact_match"}])
    online.create_evaluator(ctx, spec=spec)
    waiting = online.run_online(ctx, project=P).passes[0]
    assert waiting.scored == {"exact_match": 0} and waiting.awaiting_reference == 3
    create_feedback(ctx, spec=FeedbackCreate(trace_id=traces[1], correction="Lisbon, in May"))
    create_feedback(ctx, spec=FeedbackCreate(trace_id=traces[2], correction="Porto"))
    got = online.run_online(ctx, project=P).passes[0]
    assert got.scored == {"exact_match": 2} and got.awaiting_reference == 1
    assert online.list_scores(ctx, project=P, trace_id=traces[1])[0].score == 1.0
    assert online.list_scores(ctx, project=P, trace_id=traces[2])[0].score == 0.0


def test_a_judge_grades_the_sample_and_a_changed_spec_is_a_new_version_scored_anew(
    ctx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "online_judge.py").write_text(JUDGE)
    monkeypatch.syspath_prepend(str(tmp_path))
    traces = _traffic(ctx, 4)
    metrics = [{"kind": "judge", "model": "py:online_judge:grade"}]
    online.create_evaluator(ctx, spec=_evaluator(name="judged", metrics=metrics))
    assert online.run_online(ctx, project=P).passes[0].scored == {"judge": 4}
    (score,) = online.list_scores(ctx, project=P, trace_id=traces[0])
    assert score.score == 5.0 and score.detail["raw"] == "Score: 5"
    same = online.create_evaluator(ctx, spec=_evaluator(name="judged", metrics=metrics))
    assert same.version == 1  # an unchanged spec writes nothing
    changed = online.create_evaluator(ctx, spec=_evaluator(name="judged", metrics=metrics, max_per_pass=50))
    assert changed.version == 2
    assert online.run_online(ctx, project=P).passes[0].scored == {"judge": 4}
    assert [s.version for s in online.list_scores(ctx, project=P, trace_id=traces[0])] == [1, 2]


@pytest.mark.parametrize(
    ("metrics", "key"),
    [
        ([{"kind": "task", "metric": "exact_matsh"}], "metrics[0].metric"),
        ([{"kind": "json_valid"}, {"kind": "judge", "model": "nosuch@1"}], "metrics[1].model"),
        ([{"kind": "task", "metric": "regex", "options": {"nope": 1}}], "metrics[0].options"),
    ],
)
def test_bad_metrics_are_refused_naming_the_key_and_nothing_is_stored(
    ctx: Any, metrics: list[dict[str, Any]], key: str
) -> None:
    with pytest.raises(InvalidInput) as e:
        online.create_evaluator(ctx, spec=_evaluator(metrics=metrics))
    assert e.value.details["key"] == key and key in e.value.message
    config = MonitoringConfig.model_validate({
        "monitors": [{"name": "m", "project": P, "metric": "error_rate", "window_s": 60}],
        "online": [_evaluator(metrics=metrics).model_dump()],
    })  # fmt: skip
    with pytest.raises(InvalidInput) as e:
        service.apply_config(ctx, config=config)
    assert e.value.details["key"] == f"online[0].{key}"
    # the project exists; it holds neither the monitor nor the evaluator
    record(ctx, project=P, at=time.time())
    assert online.list_evaluators(ctx, project=P) == [] and service.list_monitors(ctx, project=P) == []


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"sample_rate": 1.5}, "sample_rate"),
        ({"metrics": []}, "metrics"),
        ({"metrics": [{"kind": "judge"}]}, "'model'"),
        ({"metrics": [{"kind": "json_valid"}, {"kind": "json_valid"}]}, "same name 'json_valid'"),
        ({"metrics": [{"kind": "json_valid", "model": "x@1"}]}, "'model' and 'rubric' are for judge"),
    ],
)
def test_malformed_specs_fail_validation_naming_what(over: dict[str, Any], needle: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as e:
        _evaluator(**over)
    assert needle in str(e.value)


def test_projects_are_isolated(ctx: Any) -> None:
    ours = _traffic(ctx, 2)
    theirs = _traffic(ctx, 2, project="other")
    online.create_evaluator(ctx, spec=_evaluator())
    (p,) = online.run_online(ctx).passes
    assert (p.project, p.seen) == (P, 2)
    assert online.list_scores(ctx, project="other", trace_id=theirs[0]) == []
    # another project's scores look absent
    assert online.list_scores(ctx, project="other", trace_id=ours[0]) == []
    assert online.list_evaluators(ctx, project="other") == []


def test_the_scheduled_monitor_pass_scores_online_before_it_measures(ctx: Any) -> None:
    _traffic(ctx, 4)
    online.create_evaluator(ctx, spec=_evaluator())
    service.create_monitor(ctx, spec=MonitorCreate(name="json-ok", project=P, metric="online:json_valid",
                                                   window_s=600))  # fmt: skip
    schedule = schedules.create_schedule(
        ctx, spec=ScheduleCreate(name="watch", project=P, kind="monitor", target="*", cron="*/5 * * * *")
    )
    outcome = job_kind("monitor")(ctx, schedule)
    assert "4 online score(s)" in outcome
    assert service.list_results(ctx, project=P, name="json-ok")[0].value == pytest.approx(0.5)


def test_http_and_cli_twins(ctx: Any, api: Any, cli: Any) -> None:
    traces = _traffic(ctx, 2)
    bad = api.post("/api/v1/monitors/online", json={**_evaluator().model_dump(), "metrics": [
        {"kind": "task", "metric": "nosuch"}]})  # fmt: skip
    assert bad.status_code in (400, 422) and "metrics[0].metric" in bad.text
    made = api.post("/api/v1/monitors/online", json=_evaluator().model_dump())
    assert made.status_code == 201 and made.json()["version"] == 1
    ran = api.post("/api/v1/monitors/online/run", json={"project": P})
    assert ran.status_code == 200 and ran.json()["passes"][0]["scored"] == {"json_valid": 2}
    got = api.get(f"/api/v1/monitors/online/scores/{traces[0]}", params={"project": P})
    assert [x["score"] for x in got.json()["items"]] == [1.0]
    listed = cli("monitor", "online", "list", "-p", P, "--json")
    assert listed.exit_code == 0 and [e["name"] for e in json.loads(listed.stdout)["items"]] == ["json"]
    table = cli("monitor", "online", "scores", traces[1], "-p", P)
    assert table.exit_code == 0 and "json_valid" in table.stdout
    rerun = cli("monitor", "online", "run", "-p", P, "--json")
    assert rerun.exit_code == 0 and json.loads(rerun.stdout)["passes"][0]["scored"] == {"json_valid": 0}


def test_deleting_an_evaluator_removes_it_and_its_scores_audited_and_project_scoped(
    ctx: Any, cli: Any
) -> None:
    traces = _traffic(ctx, 4)
    theirs = _traffic(ctx, 2, project="other")
    online.create_evaluator(ctx, spec=_evaluator())
    online.create_evaluator(ctx, spec=_evaluator(project="other"))  # the same name in another project
    online.run_online(ctx)
    service.create_monitor(ctx, spec=MonitorCreate(name="json-ok", project=P, metric="online:json_valid",
                                                   window_s=600))  # fmt: skip

    online.delete_evaluator(ctx, project=P, name="json")

    assert online.list_evaluators(ctx, project=P) == []
    assert all(online.list_scores(ctx, project=P, trace_id=t) == [] for t in traces)
    (event,) = audit.list_events(ctx, action="online_eval.delete", project=P)
    assert event.target == f"online:{P}/json" and event.before is not None
    assert (event.before["version"], event.before["scores"], event.before["sample_rate"]) == (1, 4, 1.0)
    # the scores went with it: the monitor has nothing left to window
    assert service.run_monitors(ctx, project=P, monitor="json-ok").results[0].status == "empty"
    # the other project's evaluator of the same name is untouched
    assert [e.name for e in online.list_evaluators(ctx, project="other")] == ["json"]
    assert len(online.list_scores(ctx, project="other", trace_id=theirs[0])) == 1

    with pytest.raises(NotFound) as again:
        online.delete_evaluator(ctx, project=P, name="json")
    assert again.value.message == f"online evaluator 'json' not found in {P!r}"
    with pytest.raises(NotFound) as nowhere:
        online.delete_evaluator(ctx, project="no-such-project", name="json")
    assert nowhere.value.message == "online evaluator 'json' not found in 'no-such-project'"
    with pytest.raises(InvalidInput):
        online.delete_evaluator(ctx, project="bad project!", name="json")
    assert len(audit.list_events(ctx, action="online_eval.delete")) == 1  # refusals write nothing

    out = cli("monitor", "online", "delete", "json", "-p", "other")
    assert (
        out.exit_code == 0
        and out.stdout.strip() == "deleted online evaluator 'json' of 'other' and its scores"
    )
    assert online.list_evaluators(ctx, project="other") == []
    out = cli("monitor", "online", "delete", "json", "-p", "other")
    assert out.exit_code == 2 and out.stderr.strip() == "error: online evaluator 'json' not found in 'other'"
