"""``llmloop eval run|list|show|compare|gate|metrics|import-jsonl``.

``eval gate`` exits 0 when every required gate passes, 1 when one fails, 2 on an error (bad rule,
unknown metric, missing model), so CI can tell "the model is worse" from "the check is broken".
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from llmloop.cli._output import fmt_time, fmt_value, json_option, print_json, print_table
from llmloop.sdk import evaluations as ev
from llmloop.sdk import metrics as ll_metrics
from llmloop.services.evaluate.schemas import Comparison, DiffOutcome, Evaluation, GateVerdict


@click.group("eval")
def eval_() -> None:
    """Evaluate models on suites, compare them with confidence intervals, gate promotions."""


def _ci(low: float | None, high: float | None) -> str:
    return "-" if low is None or high is None else f"[{fmt_value(low)}, {fmt_value(high)}]"


def _print_evaluation(e: Evaluation) -> None:
    click.echo(f"evaluation {e.id}  suite={e.suite}  model={e.model_ref}  [{e.status}]  project={e.project}")
    if e.error:
        click.echo(f"error: {e.error}")
    rows = [
        [k, m.score, _ci(m.ci_low, m.ci_high), m.n, "higher" if m.higher_is_better else "lower", m.scale]
        for k, m in e.metrics.items()
    ]
    if rows:
        print_table(["metric", "score", "95% CI", "n", "better", "scale"], rows)
    if e.status == "completed":
        rate = f"{e.error_rate:.1%}" if e.error_rate is not None else "-"
        click.echo(f"examples {e.n_examples}, model errors {e.n_errors} (error rate {rate}); run {e.run_id}")


@eval_.command("run")
@click.argument("suite", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--model", "-m", required=True, help="Model reference NAME[@VERSION|@ALIAS], or py:module:callable."
)
@click.option("--project", "-p", default=None, help="Project for the results (default: the suite's).")
@click.option("--limit", type=click.IntRange(1), default=None, help="Evaluate only the first N examples.")
@click.option(
    "--reuse", is_flag=True, help="Return a stored identical evaluation of this model version if any."
)
@json_option
def run_cmd(
    suite: Path, model: str, project: str | None, limit: int | None, reuse: bool, json_: bool
) -> None:
    """Generate answers for every example of SUITE with the model, score them, store the evaluation."""
    result = ev.run(suite, model=model, project=project, limit=limit, reuse=reuse, progress=not json_)
    if json_:
        print_json(result)
        return
    _print_evaluation(result)


@eval_.command("list")
@click.option("--project", "-p", default=None)
@click.option("--suite", default=None)
@click.option("--model", default=None)
@click.option("--status", type=click.Choice(["running", "completed", "failed"]), default=None)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@json_option
def list_cmd(
    project: str | None, suite: str | None, model: str | None, status: str | None, limit: int, json_: bool
) -> None:
    """List evaluations, newest first."""
    page = ev.list(project=project, suite=suite, model=model, status=status, limit=limit)
    if json_:
        print_json(page)
        return
    keys = list(dict.fromkeys(k for e in page.items for k in e.metrics))[:5]
    rows = [
        [
            e.id[:12],
            e.suite,
            e.model_ref,
            e.status,
            fmt_time(e.created_at),
            e.error_rate,
            *(e.metrics[k].score if k in e.metrics else None for k in keys),
        ]
        for e in page.items
    ]
    print_table(["id", "suite", "model", "status", "created", "error rate", *keys], rows)


@eval_.command("show")
@click.argument("evaluation_id")
@click.option(
    "--examples", "n_examples", type=click.IntRange(0, 1000), default=0, help="Also show N examples."
)
@click.option("--errors", "errors_only", is_flag=True, help="Show only examples the model failed on.")
@click.option("--worst", default=None, help="Show examples sorted by this metric, worst first.")
@json_option
def show_cmd(evaluation_id: str, n_examples: int, errors_only: bool, worst: str | None, json_: bool) -> None:
    """Show an evaluation (id or unique prefix): metrics with CIs, error rate, and optionally examples."""
    e = ev.get(evaluation_id)
    page = None
    if n_examples or errors_only or worst:
        page = ev.examples(e.id, limit=n_examples or 20, errors_only=errors_only, worst_first=worst)
    if json_:
        print_json({"evaluation": e, "examples": page.items if page else []} if page else e)
        return
    _print_evaluation(e)
    if page:
        keys = list(e.metrics)[:4]
        rows = [
            [x.example_id, (x.output or "")[:80], x.error or "", *(x.scores.get(k) for k in keys)]
            for x in page.items
        ]
        print_table(
            ["example", "output", "error", *keys], rows, title=f"{len(page.items)} of {page.total} examples"
        )


def _print_comparison(c: Comparison) -> None:
    for pair in c.pairs:
        click.echo(
            f"\n{pair.candidate_model} ({pair.candidate_id[:8]}) vs baseline {pair.baseline_model} "
            f"({pair.baseline_id[:8]}): {pair.n_paired} paired examples"
        )
        rows = [
            [
                d.key,
                d.baseline,
                d.candidate,
                d.delta,
                _ci(d.ci_low, d.ci_high),
                d.p_value,
                f"{d.wins}/{d.losses}/{d.ties}",
                d.verdict,
            ]
            for d in pair.metrics
        ]
        print_table(
            ["metric", "baseline", "candidate", "delta", "95% CI", "p", "wins/losses/ties", "verdict"], rows
        )
        if pair.pairwise:
            p = pair.pairwise
            click.echo(
                f"pairwise judge (both orders): candidate {p['wins_b']} wins, baseline {p['wins_a']}, "
                f"ties {p['ties']} ({p['inconsistent']} position-inconsistent, {p['unparsed']} unparsed)"
            )
    if c.report_path:
        click.echo(f"\nreport: {Path(c.report_path) / 'report.html'}")
        click.echo(f"        {Path(c.report_path) / 'report.md'}  (artifacts of run {c.report_run_id})")


@eval_.command("compare")
@click.argument("evaluation_ids", nargs=-1, required=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Report folder.")
@click.option("--resamples", default=2000, show_default=True, type=click.IntRange(100, 100000))
@click.option("--seed", default=0, show_default=True)
@click.option("--no-report", is_flag=True, help="Only print the comparison.")
@click.option("--judge", default=None, help="Also judge the answers pairwise (both orders) with this model.")
@click.option(
    "--show",
    type=click.Choice(["wins", "losses", "ties"]),
    default=None,
    help="Also list each candidate's wins, losses or ties, largest change first.",
)
@click.option("--key", default=None, help="The metric --show lists by (default: the first quality metric).")
@click.option(
    "--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="Examples --show lists."
)
@json_option
def compare_cmd(
    evaluation_ids: tuple[str, ...],
    out: Path | None,
    resamples: int,
    seed: int,
    no_report: bool,
    judge: str | None,
    show: DiffOutcome | None,
    key: str | None,
    limit: int,
    json_: bool,
) -> None:
    """Compare evaluations; the first is the baseline. Prints deltas with 95% CIs and where the report is."""
    if len(evaluation_ids) < 2:
        raise click.UsageError("compare needs at least two evaluation ids")
    c = ev.compare(
        list(evaluation_ids),
        n_resamples=resamples,
        seed=seed,
        report=not no_report,
        report_dir=out,
        judge=judge,
    )
    diffs = (
        [ev.diff(p.baseline_id, p.candidate_id, key=key, outcome=show, limit=limit) for p in c.pairs]
        if show is not None
        else []
    )
    if json_:
        print_json({"comparison": c, "diffs": diffs} if show else c)
        return
    _print_comparison(c)
    for d in diffs:
        click.echo(f"\n{d.outcome} of {d.candidate_id[:8]} on {d.key}: {len(d.items)} of {d.total}")
        rows = [
            [
                x.example_id,
                x.baseline_score,
                x.candidate_score,
                _clip(x.baseline_output),
                _clip(x.candidate_output),
            ]
            for x in d.items
        ]
        print_table(["example", "baseline", "candidate", "baseline output", "candidate output"], rows)


def _clip(text: str | None, n: int = 80) -> str:
    """Answers in a terminal table: one screen line or so each; --json has them whole (2,000 chars)."""
    text = text or ""
    return text if len(text) <= n else text[: n - 1] + "…"


def _print_verdict(v: GateVerdict) -> None:
    rows = [[r.rule, r.status.upper(), "yes" if r.required else "no", r.detail] for r in v.results]
    print_table(["gate", "result", "required", "detail"], rows, title=f"suite {v.suite}")
    base = v.baseline_evaluation_id[:12] if v.baseline_evaluation_id else "none"
    click.echo(f"candidate evaluation {v.candidate_evaluation_id[:12]}, baseline evaluation {base}")
    click.echo("PASSED" if v.passed else "FAILED")


@eval_.command("gate")
@click.argument("suite", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--candidate", required=True, help="Candidate model reference (or py:module:callable).")
@click.option("--baseline", default=None, help="Baseline model reference, e.g. models:travel@champion.")
@click.option(
    "--allow-missing-baseline",
    is_flag=True,
    help="Skip comparative gates if the baseline does not exist yet.",
)
@click.option("--fresh", is_flag=True, help="Evaluate again even if identical evaluations are stored.")
@click.option("--project", "-p", default=None)
@json_option
def gate_cmd(
    suite: Path,
    candidate: str,
    baseline: str | None,
    allow_missing_baseline: bool,
    fresh: bool,
    project: str | None,
    json_: bool,
) -> None:
    """Evaluate and check SUITE's gates. Exit 0: all required gates pass; 1: one fails; 2: error."""
    verdict = ev.gate(
        suite,
        candidate=candidate,
        baseline=baseline,
        project=project,
        allow_missing_baseline=allow_missing_baseline,
        reuse=not fresh,
        progress=not json_,
    )
    if json_:
        print_json(verdict)
    else:
        _print_verdict(verdict)
    if not verdict.passed:
        sys.exit(1)


@eval_.command("check")
@click.option("--rule", "rules", multiple=True, required=True, help="A gate rule (repeatable).")
@click.option("--candidate", required=True, help="Candidate evaluation id.")
@click.option("--baseline", default=None, help="Baseline evaluation id.")
@json_option
def check_cmd(rules: tuple[str, ...], candidate: str, baseline: str | None, json_: bool) -> None:
    """Check gate rules against stored evaluations (no generation). Exit codes as for 'gate'."""
    verdict = ev.check(list(rules), candidate=candidate, baseline=baseline)
    if json_:
        print_json(verdict)
    else:
        _print_verdict(verdict)
    if not verdict.passed:
        sys.exit(1)


@eval_.command("metrics")
@json_option
def metrics_cmd(json_: bool) -> None:
    """List every metric: built-in, plugins (entry-point group llmloop.metrics) and task metrics."""
    infos = ll_metrics.describe()
    if json_:
        print_json(infos)
        return
    rows = [
        [
            i.name,
            i.scale,
            "higher" if i.higher_is_better else "lower",
            "yes" if i.requires_references else "no",
            i.source,
            i.description,
        ]
        for i in infos
    ]
    print_table(["metric", "scale", "better", "references", "source", "description"], rows)


@eval_.command("import-jsonl")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="Suite name.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Suite file (default: NAME.yaml next to PATH).",
)
@click.option("--input-field", default=None, help="Field used as the user message.")
@click.option("--template", default=None, help="User message template with {field} placeholders.")
@click.option("--system", default=None, help="System message (with --template or --input-field).")
@click.option("--reference-field", default=None, help="Field holding the reference answer(s).")
@click.option("--id-field", default="id", show_default=True)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help="Metric name (repeatable; default exact_match, token_f1, rougeL).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing suite file.")
@json_option
def import_jsonl_cmd(
    path: Path,
    name: str,
    out: Path | None,
    input_field: str | None,
    template: str | None,
    system: str | None,
    reference_field: str | None,
    id_field: str,
    metrics: tuple[str, ...],
    force: bool,
    json_: bool,
) -> None:
    """Check a JSONL benchmark line by line and write a suite for it."""
    from llmloop.services.evaluate.importer import suite_from_jsonl

    dest = out or path.with_name(f"{name}.yaml")
    _, summary = suite_from_jsonl(
        path,
        name=name,
        out=dest,
        input_field=input_field,
        reference_field=reference_field,
        id_field=id_field,
        template=template,
        system=system,
        metrics=list(metrics) or None,
        force=force,
    )
    if json_:
        print_json(summary)
        return
    click.echo(
        f"{summary['rows']} rows ({summary['with_reference']} with references) from {summary['dataset']}"
    )
    click.echo(f"metrics: {', '.join(summary['metrics'])}")
    click.echo(f"wrote {summary['suite']}; run it with: llmloop eval run {summary['suite']} --model REF")
