"""Routing: weighted splits follow the weights and stay sticky per user; fallbacks follow the chosen target."""

from __future__ import annotations

import collections

import pytest
from pydantic import ValidationError

from llmloop.services.serve.routing import choose_target, plan_attempts
from llmloop.services.serve.schemas import DeploymentSpec


def _spec(**kw: object) -> DeploymentSpec:
    return DeploymentSpec.model_validate(kw)


def test_single_policy_uses_first_target() -> None:
    spec = _spec(targets=[{"model": "a"}, {"model": "b"}], fallbacks=[{"model": "c"}])
    assert [t.model for t in plan_attempts(spec, deployment="d", user=None)] == ["a", "c"]


def test_weighted_split_follows_weights_and_is_sticky_per_user() -> None:
    spec = _spec(policy="weighted", targets=[{"model": "a", "weight": 9}, {"model": "b", "weight": 1}])
    picks = collections.Counter(choose_target(spec, deployment="d", user=f"u{i}").model for i in range(4000))
    assert 0.86 < picks["a"] / 4000 < 0.94
    for i in range(50):
        first = choose_target(spec, deployment="d", user=f"user-{i}").model
        assert all(choose_target(spec, deployment="d", user=f"user-{i}").model == first for _ in range(5))


def test_zero_weight_target_never_chosen() -> None:
    spec = _spec(policy="weighted", targets=[{"model": "a", "weight": 0}, {"model": "b", "weight": 1}])
    assert {choose_target(spec, deployment="d", user=None).model for _ in range(200)} == {"b"}


def test_weighted_needs_positive_total_and_upstream_is_a_url() -> None:
    with pytest.raises(ValidationError, match="positive total weight"):
        _spec(policy="weighted", targets=[{"model": "a", "weight": 0}])
    with pytest.raises(ValidationError):
        _spec(targets=[{"model": "a", "upstream": "ftp://x"}])
    with pytest.raises(ValidationError):
        _spec(targets=[])
