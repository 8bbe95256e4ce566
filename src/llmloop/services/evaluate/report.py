"""The comparison report a person reads: Markdown and HTML with PNG plots (matplotlib, Agg backend).

Plots are small multiples, one panel per metric, because metrics live on different scales (BLEU
0-100, ROUGE 0-1, latency in ms): ``metrics.png`` shows each evaluation's score with its 95% CI,
``deltas.png`` each candidate's difference from the baseline with its CI and the zero line, and
``distributions.png`` the per-example score distributions. The HTML page embeds the plots, so it
is one self-contained file; every text from a model or dataset is escaped.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmloop.services.evaluate.results import ExampleTable
from llmloop.services.evaluate.schemas import Comparison, Evaluation, MetricDelta, PairComparison

PLOTS = ("metrics.png", "deltas.png", "distributions.png")


def _fmt(v: float | None, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.{digits}g}"


def _p(v: float | None) -> str:
    if v is None:
        return "-"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def _label(e: Evaluation) -> str:
    return f"{e.model_ref} ({e.id[:6]})"


def _grid(n: int) -> tuple[int, int]:
    cols = min(3, max(1, n))
    return math.ceil(n / cols), cols


def _plot_metrics(evaluations: Sequence[Evaluation], keys: Sequence[str], path: Path) -> None:
    import matplotlib.pyplot as plt

    rows, cols = _grid(len(keys))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        scores, err_low, err_high, labels = [], [], [], []
        for e in evaluations:
            agg = e.metrics.get(key)
            s = agg.score if agg is not None and agg.score is not None else math.nan
            scores.append(s)
            lo = agg.ci_low if agg is not None and agg.ci_low is not None else s
            hi = agg.ci_high if agg is not None and agg.ci_high is not None else s
            err_low.append(max(0.0, s - lo) if math.isfinite(s) else 0.0)
            err_high.append(max(0.0, hi - s) if math.isfinite(s) else 0.0)
            labels.append(e.id[:6])
        x = list(range(len(evaluations)))
        ax.bar(x, scores, yerr=[err_low, err_high], capsize=4, color=[f"C{i}" for i in x])
        ax.set_xticks(x, labels, fontsize=8)
        ax.set_title(key, fontsize=10)
    for ax in list(axes.flat)[len(keys) :]:
        ax.set_visible(False)
    fig.suptitle("Scores with 95% bootstrap CIs", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_deltas(pairs: Sequence[PairComparison], keys: Sequence[str], path: Path) -> None:
    import matplotlib.pyplot as plt

    rows, cols = _grid(len(keys))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 0.6 * len(pairs) + 2.2 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        for y, pair in enumerate(pairs):
            d = next((m for m in pair.metrics if m.key == key), None)
            if d is None or d.delta is None:
                continue
            lo = d.ci_low if d.ci_low is not None else d.delta
            hi = d.ci_high if d.ci_high is not None else d.delta
            color = {"better": "tab:green", "worse": "tab:red"}.get(d.verdict, "tab:gray")
            ax.errorbar(
                [d.delta], [y], xerr=[[d.delta - lo], [hi - d.delta]], fmt="o", color=color, capsize=4
            )
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.set_yticks(range(len(pairs)), [p.candidate_id[:6] for p in pairs], fontsize=8)
        ax.set_ylim(-0.8, len(pairs) - 0.2)
        ax.set_title(f"{key}: candidate - baseline", fontsize=10)
    for ax in list(axes.flat)[len(keys) :]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_distributions(tables: Sequence[ExampleTable], keys: Sequence[str], path: Path) -> None:
    import matplotlib.pyplot as plt

    rows, cols = _grid(len(keys))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        for i, t in enumerate(tables):
            values = [v for v in t.scores.get(key, []) if v is not None and math.isfinite(v)]
            if values:
                ax.hist(
                    values, bins=20, histtype="step", linewidth=1.5, color=f"C{i}", label=t.evaluation.id[:6]
                )
        ax.set_title(key, fontsize=10)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(keys) :]:
        ax.set_visible(False)
    fig.suptitle("Per-example score distributions", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _delta_row(d: MetricDelta) -> list[str]:
    ci = f"[{_fmt(d.ci_low)}, {_fmt(d.ci_high)}]"
    arrow = "higher" if d.higher_is_better else "lower"
    return [
        f"{d.key} ({arrow} is better)",
        _fmt(d.baseline),
        _fmt(d.candidate),
        _fmt(d.delta),
        ci,
        _p(d.p_value),
        _p(d.p_permutation),
        _p(d.p_wilcoxon),
        f"{d.wins}/{d.losses}/{d.ties}",
        d.verdict,
    ]


DELTA_HEADERS = [
    "metric",
    "baseline",
    "candidate",
    "delta",
    "95% CI",
    "p (bootstrap)",
    "p (sign-flip)",
    "p (Wilcoxon)",
    "wins/losses/ties",
    "verdict",
]


def _pairwise_line(p: dict[str, Any]) -> str:
    return (
        f"Pairwise judge (both orders): candidate wins {p['wins_b']}, baseline wins {p['wins_a']}, ties {p['ties']} "
        f"({p['inconsistent']} position-inconsistent), unparsed {p['unparsed']}; candidate win rate "
        f"{_fmt(p.get('candidate_win_rate'), 3)}, first-position rate {_fmt(p.get('first_position_rate'), 3)}."
    )


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _quote(text: str | None, limit: int = 400) -> str:
    body = (text or "(no answer)").strip()
    body = body[:limit] + ("…" if len(body) > limit else "")
    return "\n".join("    " + line for line in body.splitlines() or [""])


def _evaluation_rows(evaluations: Sequence[Evaluation]) -> list[list[str]]:
    return [
        [e.id[:12], e.model_ref, e.suite, str(e.n_examples), _fmt(e.error_rate, 3), e.status]
        for e in evaluations
    ]


EVAL_HEADERS = ["evaluation", "model", "suite", "examples", "error rate", "status"]


def markdown(comparison: Comparison, evaluations: Sequence[Evaluation]) -> str:
    out = [
        f"# Comparison on suite `{comparison.suite}`",
        "",
        _md_table(EVAL_HEADERS, _evaluation_rows(evaluations)),
        "",
    ]
    out += [
        "![scores](metrics.png)",
        "",
        "![deltas](deltas.png)",
        "",
        "![distributions](distributions.png)",
        "",
    ]
    for pair in comparison.pairs:
        out += [
            f"## {pair.candidate_model} ({pair.candidate_id[:6]}) vs baseline {pair.baseline_model} ({pair.baseline_id[:6]})",
            "",
            f"{pair.n_paired} paired examples"
            + (
                f"; {pair.only_baseline} only in the baseline, {pair.only_candidate} only in the candidate"
                if pair.only_baseline or pair.only_candidate
                else ""
            )
            + ".",
            "",
            _md_table(DELTA_HEADERS, [_delta_row(d) for d in pair.metrics]),
            "",
        ]
        if pair.pairwise:
            out += [_pairwise_line(pair.pairwise), ""]
        for title, diffs in (
            ("Where the candidate wins", pair.top_wins),
            ("Where the candidate loses", pair.top_losses),
        ):
            if not diffs:
                continue
            out += [f"### {title} ({diffs[0].key})", ""]
            for d in diffs:
                out += [
                    f"**{d.example_id}**: {_fmt(d.baseline_score)} → {_fmt(d.candidate_score)}",
                    "",
                    "Input:",
                    "",
                    _quote(d.input),
                    "",
                    "Baseline:",
                    "",
                    _quote(d.baseline_output),
                    "",
                    "Candidate:",
                    "",
                    _quote(d.candidate_output),
                    "",
                ]
    return "\n".join(out)


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_page(comparison: Comparison, evaluations: Sequence[Evaluation], folder: Path) -> str:
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>llmloop comparison: {esc(comparison.suite)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;font-size:14px}"
        "th{background:#f3f3f3}pre{background:#f7f7f7;padding:8px;white-space:pre-wrap}"
        ".better{color:#1a7f37}.worse{color:#cf222e}img{max-width:100%}</style></head><body>",
        f"<h1>Comparison on suite {esc(comparison.suite)}</h1>",
        _html_table(EVAL_HEADERS, _evaluation_rows(evaluations)),
    ]
    for name in PLOTS:
        p = folder / name
        if p.exists():
            data = base64.b64encode(p.read_bytes()).decode()
            parts.append(f"<p><img alt='{esc(name)}' src='data:image/png;base64,{data}'></p>")
    for pair in comparison.pairs:
        parts.append(
            f"<h2>{esc(pair.candidate_model)} ({esc(pair.candidate_id[:6])}) vs baseline "
            f"{esc(pair.baseline_model)} ({esc(pair.baseline_id[:6])})</h2><p>{pair.n_paired} paired examples.</p>"
        )
        parts.append(_html_table(DELTA_HEADERS, [_delta_row(d) for d in pair.metrics]))
        if pair.pairwise:
            parts.append(f"<p>{html.escape(_pairwise_line(pair.pairwise))}</p>")
        for title, diffs in (
            ("Where the candidate wins", pair.top_wins),
            ("Where the candidate loses", pair.top_losses),
        ):
            if not diffs:
                continue
            parts.append(f"<h3>{esc(title)} ({esc(diffs[0].key)})</h3>")
            for d in diffs:
                parts.append(
                    f"<p><b>{esc(d.example_id)}</b>: {esc(_fmt(d.baseline_score))} → {esc(_fmt(d.candidate_score))}</p>"
                    f"<pre>{esc(d.input)}</pre><p>Baseline:</p><pre>{esc(d.baseline_output or '(no answer)')}</pre>"
                    f"<p>Candidate:</p><pre>{esc(d.candidate_output or '(no answer)')}</pre>"
                )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(comparison: Comparison, tables: Sequence[ExampleTable], folder: Path) -> list[Path]:
    """Write the plots, report.md and report.html into ``folder``; returns the files written."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    folder.mkdir(parents=True, exist_ok=True)
    evaluations = [t.evaluation for t in tables]
    keys = [k for k in evaluations[0].metrics if all(k in e.metrics for e in evaluations)]
    _plot_metrics(evaluations, keys, folder / "metrics.png")
    _plot_deltas(comparison.pairs, keys, folder / "deltas.png")
    _plot_distributions(tables, keys, folder / "distributions.png")
    (folder / "report.md").write_text(markdown(comparison, evaluations), encoding="utf-8")
    (folder / "report.html").write_text(html_page(comparison, evaluations, folder), encoding="utf-8")
    (folder / "comparison.json").write_text(comparison.model_dump_json(indent=2), encoding="utf-8")
    return [folder / n for n in (*PLOTS, "report.md", "report.html", "comparison.json")]
