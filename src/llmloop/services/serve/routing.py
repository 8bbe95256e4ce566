"""Which targets a request tries, in order: the chosen one, then the fallbacks.

``weighted`` picks by weight; with a user id the pick is a hash of (deployment, user), so one
user keeps seeing one variant across requests (sticky A/B and canaries), and without one it
is random per request.
"""

from __future__ import annotations

import random

from llmloop.hashing import unit_hash
from llmloop.services.serve.schemas import DeploymentSpec, TargetSpec

_rng = random.Random()


def choose_target(spec: DeploymentSpec, *, deployment: str, user: str | None) -> TargetSpec:
    if spec.policy == "single" or len(spec.targets) == 1:
        return spec.targets[0]
    total = sum(t.weight for t in spec.targets)
    point = (unit_hash(f"{deployment}\0{user}") if user else _rng.random()) * total
    for t in spec.targets:
        point -= t.weight
        if point < 0:
            return t
    return [t for t in spec.targets if t.weight > 0][-1]


def plan_attempts(spec: DeploymentSpec, *, deployment: str, user: str | None) -> list[TargetSpec]:
    return [choose_target(spec, deployment=deployment, user=user), *spec.fallbacks]
