"""``llmloop eval``: run, list, show, compare (with the report), gate exit codes, check, metrics, import-jsonl."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eval_fixtures import write_suite


def _run(cli: Any, suite: Path, model: str) -> dict[str, Any]:
    res = cli("eval", "run", str(suite), "--model", model, "--json")
    assert res.exit_code == 0, res.stderr
    data: dict[str, Any] = json.loads(res.stdout)
    return data


def test_run_show_list_and_compare_with_report(
    cli: Any, qa_suite: Path, model_module: str, tmp_path: Path
) -> None:
    weak = _run(cli, qa_suite, f"py:{model_module}:weak")
    strong = _run(cli, qa_suite, f"py:{model_module}:strong")
    assert weak["status"] == "completed" and weak["metrics"]["exact_match"]["score"] == 0.5

    table = cli("eval", "run", str(qa_suite), "--model", f"py:{model_module}:strong")
    assert table.exit_code == 0 and "exact_match" in table.stdout and "error rate 0.0%" in table.stdout

    shown = cli("eval", "show", weak["id"][:8], "--examples", "3", "--worst", "exact_match")
    assert shown.exit_code == 0 and "I do not know" in shown.stdout
    listed = json.loads(cli("eval", "list", "--json").stdout)
    assert {e["id"] for e in listed["items"]} >= {weak["id"], strong["id"]}

    lost = cli(
        "eval", "compare", weak["id"], strong["id"], "--no-report", "--resamples", "200", "--show", "losses"
    )
    assert lost.exit_code == 0, lost.stderr
    assert (
        "losses of" in lost.stdout
        and "q36" in lost.stdout
        and "q38" in lost.stdout
        and "q01" not in lost.stdout
    )
    wins = json.loads(
        cli("eval", "compare", weak["id"], strong["id"], "--no-report", "--resamples", "200", "--show", "wins",
            "--limit", "5", "--json").stdout
    )  # fmt: skip
    (diff,) = wins["diffs"]
    assert diff["total"] == 18 and [x["example_id"] for x in diff["items"]] == [
        "q01",
        "q03",
        "q05",
        "q07",
        "q09",
    ]
    assert wins["comparison"]["pairs"][0]["n_paired"] == 40

    out = tmp_path / "report"
    res = cli("eval", "compare", weak["id"], strong["id"], "--out", str(out), "--resamples", "200")
    assert res.exit_code == 0, res.stderr
    assert f"report: {out.resolve() / 'report.html'}" in res.stdout and "better" in res.stdout
    for name in (
        "report.md",
        "report.html",
        "metrics.png",
        "deltas.png",
        "distributions.png",
        "comparison.json",
    ):
        assert (out / name).stat().st_size > 0
    assert (out / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text()
    assert "| exact_match (higher is better) | 0.5 | 0.9 | 0.4 |" in md and "![scores](metrics.png)" in md
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "<h2>" in html
    compared = json.loads((out / "comparison.json").read_text())
    run = json.loads(cli("runs", "show", compared["report_run_id"], "--json").stdout)
    assert run["kind"] == "eval-compare" and {a["path"] for a in run["artifacts"]} >= {
        "report.md",
        "report.html",
        "metrics.png",
    }


def test_gate_exit_codes(cli: Any, tmp_path: Path, model_module: str) -> None:
    suite = write_suite(
        tmp_path / "s",
        gates=["exact_match >= 0.8", "exact_match not worse than champion by more than 0.01 (95% CI)"],
    )
    strong, weak = f"py:{model_module}:strong", f"py:{model_module}:weak"
    passed = cli("eval", "gate", str(suite), "--candidate", strong, "--baseline", weak)
    assert passed.exit_code == 0, passed.stderr
    assert "PASSED" in passed.stdout and "lower bound" in passed.stdout
    failed = cli("eval", "gate", str(suite), "--candidate", weak, "--baseline", strong, "--json")
    assert failed.exit_code == 1
    verdict = json.loads(failed.stdout)
    assert verdict["passed"] is False and [r["status"] for r in verdict["results"]] == ["fail", "fail"]

    broken_rule = write_suite(tmp_path / "b", gates=["exact_match => 0.8"])
    err = cli("eval", "gate", str(broken_rule), "--candidate", strong)
    assert err.exit_code == 2 and err.stderr.startswith("error: cannot read gate rule")
    missing = cli("eval", "gate", str(suite), "--candidate", strong, "--baseline", f"py:{model_module}:nope")
    assert missing.exit_code == 2 and "cannot import" in missing.stderr
    allowed = cli(
        "eval",
        "gate",
        str(suite),
        "--candidate",
        strong,
        "--baseline",
        f"py:{model_module}:nope",
        "--allow-missing-baseline",
    )
    assert allowed.exit_code == 0 and "SKIPPED" in allowed.stdout
    broken_model = cli("eval", "gate", str(suite), "--candidate", f"py:{model_module}:broken")
    assert broken_model.exit_code == 2 and "failed on every example" in broken_model.stderr


def test_check_rules_against_stored_evaluations(cli: Any, qa_suite: Path, model_module: str) -> None:
    weak = _run(cli, qa_suite, f"py:{model_module}:weak")
    ok = cli(
        "eval",
        "check",
        "--rule",
        "exact_match >= 0.5",
        "--rule",
        "error_rate <= 0",
        "--candidate",
        weak["id"],
    )
    assert ok.exit_code == 0 and "PASSED" in ok.stdout
    no = cli("eval", "check", "--rule", "token_f1 >= 0.99", "--candidate", weak["id"])
    assert no.exit_code == 1 and "FAILED" in no.stdout
    unknown = cli("eval", "check", "--rule", "accuracy >= 0.5", "--candidate", weak["id"])
    assert unknown.exit_code == 2 and "does not have" in unknown.stderr


def test_bad_suites_exit_2_with_one_error_line(cli: Any, tmp_path: Path, model_module: str) -> None:
    suite = write_suite(tmp_path / "s")
    suite.write_text(suite.read_text() + "generaton: {}\n")
    res = cli("eval", "run", str(suite), "--model", f"py:{model_module}:weak")
    assert res.exit_code == 2
    assert res.stderr.strip().endswith("unknown key 'generaton'; did you mean 'generation'?")
    assert len(res.stderr.strip().splitlines()) == 1


def test_metrics_list(cli: Any) -> None:
    data = json.loads(cli("eval", "metrics", "--json").stdout)
    by_name = {m["name"]: m for m in data}
    assert by_name["bleu"]["scale"] == "percent" and by_name["rougeL"]["requires_references"] is True


def test_import_jsonl_writes_a_runnable_suite(cli: Any, tmp_path: Path, model_module: str) -> None:
    data = tmp_path / "bench" / "mine.jsonl"
    data.parent.mkdir()
    data.write_text(
        "".join(json.dumps({"q": f"What is item {i}?", "gold": f"answer {i}"}) + "\n" for i in range(6))
    )
    out = tmp_path / "suites" / "mine.yaml"
    res = cli(
        "eval",
        "import-jsonl",
        str(data),
        "--name",
        "mine",
        "--input-field",
        "q",
        "--reference-field",
        "gold",
        "--out",
        str(out),
    )
    assert res.exit_code == 0, res.stderr
    assert "6 rows (6 with references)" in res.stdout and out.exists()
    again = cli("eval", "import-jsonl", str(data), "--name", "mine", "--input-field", "q", "--out", str(out))
    assert again.exit_code == 2 and "--force" in again.stderr
    ran = _run(cli, out, f"py:{model_module}:weak")
    assert ran["n_examples"] == 6 and ran["metrics"]["exact_match"]["score"] == 0.5

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"q": "x", "gold": "y"}\n{"q": "x", "gold": \n')
    res = cli("eval", "import-jsonl", str(bad), "--name", "bad", "--input-field", "q")
    assert res.exit_code == 2 and "bad.jsonl:2: malformed JSON" in res.stderr
    no_refs = tmp_path / "norefs.jsonl"
    no_refs.write_text('{"prompt": "say hi"}\n')
    res = cli("eval", "import-jsonl", str(no_refs), "--name", "n")
    assert res.exit_code == 2 and "have no reference" in res.stderr
    res = cli("eval", "import-jsonl", str(no_refs), "--name", "n", "--metric", "json_valid")
    assert res.exit_code == 0, res.stderr
