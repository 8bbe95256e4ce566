"""Evaluation: metrics, suites, paired comparisons with confidence intervals, and promotion gates.

Start at ``service.run_suite`` (a suite x a model -> a stored Evaluation), ``compare.compare_evaluations``
and ``gates.check_gates`` / ``gates.gates_for_promotion``; ``seams`` is where datasets, prompts and
models from the other services come in. See docs/evaluation.md.
"""
