"""PNG charts of a dataset version for people: token-length histograms (``/profile.png``, the UI).

A data-service job, so both clients draw the same picture. matplotlib (Agg, no display) is
imported only when a chart is asked for; without it the call raises ``Unavailable`` (503) with
the install line.
"""

from __future__ import annotations

import io

from llmloop.errors import NotFound, Unavailable
from llmloop.services.data.schemas import DatasetVersion


def token_histograms(version: DatasetVersion, field: str | None = None) -> bytes:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise Unavailable("charts need matplotlib: pip install 'llmloop[eval]'") from e
    fields = version.profile.fields
    if field is not None and field not in fields:
        raise NotFound(
            f"{version.ref} has no field {field!r}; it has {', '.join(fields)}", details={"field": field}
        )
    names = [field] if field is not None else [n for n in fields if n != "metadata"] or list(fields)
    fig, axes = plt.subplots(len(names), 1, figsize=(7, 2.4 * max(1, len(names))), squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        hist = fields[name].tokens.histogram
        widths = [b - a for a, b in zip(hist.edges[:-1], hist.edges[1:], strict=True)]
        ax.bar(hist.edges[:-1], hist.counts, width=widths, align="edge", color="#4C72B0", edgecolor="white")
        stats = fields[name].tokens
        ax.set_title(f"{name}: p50 {stats.p50}, p90 {stats.p90}, max {stats.max} tokens", fontsize=9)
        ax.set_ylabel("rows", fontsize=8)
    axes[-1, 0].set_xlabel(f"tokens ({version.profile.tokenizer})", fontsize=8)
    fig.suptitle(f"{version.project}/{version.ref}", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()
