"""``llmloop monitor|alerts|triggers`` on the embedded store: a YAML file in, tables and JSON out."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.integration.monitor.traffic import record

from llmloop.context import local_context

CONFIG = """
monitors:
  - name: errors
    project: cli
    metric: error_rate
    window_s: 600
alerts:
  - name: errs
    project: cli
    monitor: errors
    above: 0.2
    severity: critical
triggers:
  - name: turn2
    project: cli
    pipeline: pipelines/turn2.yaml
    cooldown_s: 600
    when:
      any:
        - every_s: 86400
        - new_feedback: 50
"""


def test_apply_run_ack_silence_and_dry_run(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "monitoring.yaml"
    path.write_text(CONFIG)
    assert cli("monitor", "apply", str(path)).stdout.strip() == "1 monitors, 1 alert rules, 1 triggers"
    record(local_context(), project="cli", at=time.time() - 5, status="error")
    out = cli("monitor", "run", "-p", "cli")
    assert out.exit_code == 0 and "FIRED [critical] errs: errors = 1 > 0.2" in out.stdout
    alerts = json.loads(cli("alerts", "list", "-p", "cli", "--json").stdout)["items"]
    assert [a["status"] for a in alerts] == ["firing"]
    assert "acknowledged by local" in cli("alerts", "ack", alerts[0]["id"]).stdout
    assert "silenced until" in cli("alerts", "silence", "errs", "--for", "2h", "-p", "cli").stdout
    listed = cli("monitor", "list", "-p", "cli")
    assert "errors" in listed.stdout and "error_rate" in listed.stdout
    plan = cli("triggers", "dry-run", "turn2", "-p", "cli")
    assert plan.exit_code == 0 and "turn2: would start (pipelines/turn2.yaml)" in plan.stdout
    assert "every 86400s: yes (never started)" in plan.stdout
    assert "turn2" in cli("triggers", "list", "-p", "cli").stdout


def test_a_file_naming_an_unknown_metric_is_refused_with_the_key_path(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("monitors:\n  - name: slow\n    metric: latency_p90\n")
    out = cli("monitor", "apply", str(path))
    assert out.exit_code == 2
    assert out.stderr.startswith("error: ") and "bad.yaml: monitors[0].metric: unknown metric" in out.stderr
    assert "did you mean 'latency_p99'" in out.stderr
    listed = cli("monitor", "list", "--json")  # nothing half-applied: not even the project was made
    assert listed.exit_code == 2 and "project 'default' not found" in listed.stderr
    assert cli("alerts", "silence", "nope", "--for", "1h").exit_code == 2
