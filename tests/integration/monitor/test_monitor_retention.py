"""A retention purge of traces takes along what monitoring derived from them, on SQLite and PostgreSQL.

Traffic three days old and traffic an hour old are scored online, drift-tested with the real
all-MiniLM-L6-v2 (which caches their embeddings) and watched by a metric monitor whose alert rule
links the traces that pull the score down. A one-day retention of traces purges the old traffic;
afterwards no monitoring table holds the purged traces' ids, texts (in any form JSON may have
written them) or the hashes their embeddings were cached under, the recent traffic's rows are
intact, a monitor over both days counts the recent traffic only, and the purge's audit entry
counts each kind it touched.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from tests.integration.monitor.test_monitor_erasure import _hashes, _hits
from tests.integration.monitor.traffic import record

from llmloop.errors import InvalidInput
from llmloop.security import audit
from llmloop.services.monitor import alerts, online, service
from llmloop.services.monitor.embedding_cache import content_hash
from llmloop.services.monitor.schemas import (
    AlertRuleCreate,
    DriftReference,
    DriftSettings,
    MonitorCreate,
    OnlineEvaluatorCreate,
)
from llmloop.services.privacy import service as privacy

P = "purgemon"
DAY = 86_400.0


def _window(ctx: Any, at: float, label: str) -> tuple[list[str], list[str]]:
    """Twelve requests in the 10 minutes before ``at``, every other answer not JSON; (ids, texts)."""
    texts = [f"{label}: a ryokan in Kyoto with an onsen for {i + 2} nights" for i in range(12)]
    ids = [
        record(
            ctx,
            project=P,
            at=at - 300 + 2 * i,
            user=f"u{i}",
            text=t,
            answer='{"a": 1}' if i % 2 == 0 else "no",
        )
        for i, t in enumerate(texts)
    ]
    return ids, texts


def test_a_trace_purge_leaves_nothing_of_those_traces_in_monitoring(ctx: Any) -> None:
    t_old, t_new = time.time() - 3 * DAY, time.time() - 3600.0
    ref_texts = [f"A quiet beach in the Algarve for {i + 2} days" for i in range(12)]
    ref_ids = [record(ctx, project=P, at=t_old - 2000 + i, user="r", text=x) for i, x in enumerate(ref_texts)]
    old_ids, old_texts = _window(ctx, t_old, "old")
    new_ids, new_texts = _window(ctx, t_new, "new")
    online.create_evaluator(
        ctx,
        spec=OnlineEvaluatorCreate(
            name="json", project=P, sample_rate=1.0, metrics=[{"kind": "json_valid"}], lookback_s=600
        ),  # type: ignore[list-item]
    )
    reference = DriftReference(start=t_old - 2000, end=t_old - 1900)
    service.create_monitor(ctx, spec=MonitorCreate(
        name="asks", project=P, window_s=600, drift=DriftSettings(reference=reference, min_samples=10),
    ))  # fmt: skip
    service.create_monitor(
        ctx, spec=MonitorCreate(name="json-ok", project=P, metric="online:json_valid", window_s=600)
    )
    service.create_monitor(  # both days: what it counts after the purge is what is left
        ctx, spec=MonitorCreate(name="all-json", project=P, metric="online:json_valid", window_s=4 * DAY)
    )
    service.create_monitor(
        ctx, spec=MonitorCreate(name="requests", project=P, metric="request_count", window_s=4 * DAY)
    )
    alerts.create_rule(ctx, spec=AlertRuleCreate(name="broken", project=P, monitor="json-ok", below=0.9))
    for at in (t_old, t_new):
        assert online.run_online(ctx, project=P, now=at).passes[0].scored == {"json_valid": 12}
    old_run = service.run_monitors(ctx, project=P, now=t_old)
    (fired,) = old_run.fired
    assert set(fired.trace_ids) == set(old_ids[1::2])
    old_drift = next(r for r in old_run.results if r.monitor == "asks")
    assert old_drift.drift is not None and {e.text for e in old_drift.drift.examples} & set(old_texts)
    new_run = service.run_monitors(ctx, project=P, now=t_new + 1)
    new_drift = next(r for r in new_run.results if r.monitor == "asks")
    assert new_drift.drift is not None and new_drift.drift.n_current == 12
    by_name = {r.monitor: r for r in new_run.results}
    assert by_name["requests"].value == 36 and by_name["all-json"].value == 0.5

    purged_ids, purged_texts = ref_ids + old_ids, ref_texts + old_texts
    purged_hashes = {content_hash(x) for x in purged_texts}
    new_hashes = {content_hash(x) for x in new_texts}
    assert purged_hashes | new_hashes <= _hashes(ctx)
    needles = {*purged_ids, *purged_texts, *purged_hashes}
    before = set(_hits(ctx, needles))
    assert {"online_scores.trace_id", "monitor_embeddings.content_sha256", "alerts.trace_ids"} <= before
    assert "monitor_results.result" in before

    privacy.set_retention(ctx, project=P, kind="traces", days=1)
    report = privacy.purge(ctx)

    assert report.deleted[P] == {
        "traces": 24,
        "online_scores": 12,  # the reference traces were outside every online lookback
        "monitor_embeddings": 24,
        # asks and json-ok of the old window, all-json of both (its links reach back); not the new asks
        # and json-ok (their windows hold no purged trace) nor requests (it links no trace)
        "monitor_results": 4,
        "alerts": 1,
    }
    assert report.total == sum(report.deleted[P].values())
    assert _hits(ctx, needles) == []
    (event,) = audit.list_events(ctx, action="privacy.purge")
    assert event.target == f"project:{P}" and event.after == report.deleted[P]
    # the recent traffic's rows are intact
    assert new_hashes <= _hashes(ctx)
    assert all(len(online.list_scores(ctx, project=P, trace_id=x)) == 1 for x in new_ids)
    assert all(online.list_scores(ctx, project=P, trace_id=x) == [] for x in old_ids)
    (alert,) = alerts.list_alerts(ctx, project=P)
    assert alert.trace_ids == [] and alert.message == fired.message
    kept = {r.ran_at: r for r in service.list_results(ctx, project=P, name="asks")}
    assert kept[t_new + 1] == new_drift  # its window held no purged trace
    scrubbed = kept[t_old]
    assert scrubbed.drift is not None and old_drift.drift is not None
    assert (scrubbed.drift.statistic, scrubbed.drift.p_value) == (
        old_drift.drift.statistic,
        old_drift.drift.p_value,
    )
    assert {e.trace_id for e in scrubbed.drift.examples} == {None} and scrubbed.trace_ids == []
    # what the monitors count now leaves the purged traffic out
    after = {r.monitor: r for r in service.run_monitors(ctx, project=P, now=t_new + 2).results}
    assert after["requests"].value == 12 and after["all-json"].value == 0.5
    assert after["asks"].status == "empty" and "reference holds 0 texts" in after["asks"].message
    online.delete_evaluator(ctx, project=P, name="json")
    (deleted,) = audit.list_events(ctx, action="online_eval.delete")
    assert deleted.before is not None and deleted.before["scores"] == 12  # none of a purged trace
    assert privacy.purge(ctx).deleted[P] == dict.fromkeys(report.deleted[P], 0)  # nothing left to purge


def test_kinds_derived_from_traces_have_no_retention_of_their_own(ctx: Any) -> None:
    privacy.set_retention(ctx, project=P, kind="traces", days=30)
    for kind in ("online_scores", "monitor_embeddings", "monitor_results", "alerts"):
        with pytest.raises(InvalidInput, match=f"'{kind}' has no retention of its own.*of 'traces'"):
            privacy.set_retention(ctx, project=P, kind=kind, days=3)
    assert privacy.get_retention(ctx, project=P).days == {"traces": 30}
