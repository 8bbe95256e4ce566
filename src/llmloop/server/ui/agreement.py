"""Inter-annotator agreement over the labels people gave in the annotation queue.

Cohen's kappa for two annotators who labelled the same items; Fleiss' kappa for any number of
annotators, over items that got the same number of labels each. Both are 1 for perfect
agreement, 0 for agreement at chance level; None when there is nothing to measure.

A pairwise choice (which of two answers is better) and a verdict on one answer (thumbs, a score,
a label) answer different questions, so agreement is measured per task (``by_task``): one
reviewer's thumbs-up and another's "left is better" on the same trace are not a disagreement.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from llmloop.services.serve.feedback_export import PAIRWISE

Task = str  # "labels" (a verdict on one answer) or "pairwise" (a choice between two)


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Agreement of two annotators' labels on the same items, in the same order."""
    if len(a) != len(b):
        raise ValueError("both annotators must label the same items")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in ca) / (n * n)
    if expected == 1:
        return 1.0 if observed == 1 else None
    return (observed - expected) / (1 - expected)


def fleiss_kappa(items: Sequence[Sequence[str]]) -> float | None:
    """Agreement of many annotators: ``items`` holds each item's labels (the same count per item)."""
    rated = [list(i) for i in items if len(i) >= 2]
    if not rated:
        return None
    raters = len(rated[0])
    if any(len(i) != raters for i in rated):
        raise ValueError("every item needs the same number of labels")
    n = len(rated)
    per_item = [Counter(i) for i in rated]
    agreement = sum(
        (sum(c * c for c in counts.values()) - raters) / (raters * (raters - 1)) for counts in per_item
    )
    p_bar = agreement / n
    totals: Counter[str] = Counter()
    for counts in per_item:
        totals.update(counts)
    p_e = sum((t / (n * raters)) ** 2 for t in totals.values())
    if p_e == 1:
        return 1.0 if p_bar == 1 else None
    return (p_bar - p_e) / (1 - p_e)


def agreement(labels: Mapping[str, Mapping[str, str]]) -> dict[str, float | int | None]:
    """``labels[item][annotator]``: Cohen's kappa of the two annotators who share the most items,
    and Fleiss' kappa over the items with the most common number of labels (2 or more)."""
    shared: Counter[tuple[str, str]] = Counter()
    for by in labels.values():
        names = sorted(by)
        shared.update((x, y) for i, x in enumerate(names) for y in names[i + 1 :])
    cohen = None
    if shared:
        (x, y), _ = shared.most_common(1)[0]
        both = [by for by in labels.values() if x in by and y in by]
        cohen = cohen_kappa([by[x] for by in both], [by[y] for by in both])
    sizes = Counter(len(by) for by in labels.values() if len(by) >= 2)
    fleiss = None
    multi = 0
    if sizes:
        size, multi = sizes.most_common(1)[0]
        fleiss = fleiss_kappa([list(by.values()) for by in labels.values() if len(by) == size])
    return {"cohen_kappa": cohen, "fleiss_kappa": fleiss, "items_with_several_reviews": multi}


def task_of(label: str) -> Task:
    return "pairwise" if label.startswith(PAIRWISE) else "labels"


def by_task(given: Iterable[tuple[str, str, str]]) -> dict[Task, dict[str, float | int | None]]:
    """``(item, annotator, label)`` triples -> ``agreement`` per task that has labels, each
    annotator's first label per item and task counting."""
    labels: dict[Task, dict[str, dict[str, str]]] = {}
    for item, annotator, label in given:
        labels.setdefault(task_of(label), {}).setdefault(item, {}).setdefault(annotator, label)
    return {task: agreement(items) for task, items in sorted(labels.items())}
