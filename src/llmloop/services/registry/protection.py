"""Protected aliases: an alias that moves only when a stored eval suite's required gates pass.

A project declares it once (``llmloop models protect travel-sft champion --suite release.yaml``);
from then on every move of that alias, through any door, runs the suite's gates on the candidate
against the alias's current holder (or another baseline alias) before anything moves
(``service.promote_model``). The suite is stored as its YAML text, not as a path, so editing the
file later cannot loosen the gates; for the same reason it may not read local files: its examples
come from registered datasets, which are immutable versions in the store.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from llmloop.errors import InvalidInput
from llmloop.services.registry.schemas import AliasProtection
from llmloop.store.tables.models import ModelAliasProtectionRow

if TYPE_CHECKING:
    from llmloop.services.evaluate.suite import Suite
    from llmloop.services.registry.service import Gate


def checked_suite(text: str, *, source: str) -> Suite:
    """The suite ``text`` holds, refused unless it can guard an alias: valid, with gates, reading no local file."""
    import yaml

    from llmloop.services.evaluate.gates import parse_rules
    from llmloop.services.evaluate.suite import parse_suite

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InvalidInput(
            f"{source}: not valid YAML (line {line}): {getattr(e, 'problem', e)}",
            details={"field": "suite", "line": line},
        ) from e
    suite = parse_suite(data, source=source)
    if not suite.gates:
        raise InvalidInput(
            f"{source}: suite {suite.name!r} has no gates, so it cannot guard an alias",
            details={"field": "suite", "key": "gates"},
        )
    parse_rules(suite.gates)  # an unreadable rule is refused now, not at the next promotion
    local = [
        key
        for key, source_ in (
            ("dataset.path", suite.dataset),
            ("prompt.few_shot.path", suite.prompt.few_shot if suite.prompt else None),
        )
        if source_ is not None and source_.path is not None
    ]
    if local:
        raise InvalidInput(
            f"{source}: {local[0]} names a local file; a suite that guards an alias is stored as text and "
            "must read registered datasets only (llmloop data add, then dataset: {ref: NAME@VERSION})",
            details={"field": "suite", "key": local[0]},
        )
    return suite


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def find(s: Session, *, model_id: str, alias: str) -> ModelAliasProtectionRow | None:
    return s.scalar(
        select(ModelAliasProtectionRow).where(
            ModelAliasProtectionRow.model_id == model_id, ModelAliasProtectionRow.alias == alias
        )
    )


def to_protection(row: ModelAliasProtectionRow, *, project: str, name: str) -> AliasProtection:
    return AliasProtection(
        project=project,
        name=name,
        alias=row.alias,
        suite_name=row.suite_name,
        suite_sha256=row.suite_sha256,
        suite=row.suite,
        baseline_alias=row.baseline_alias,
        reason=row.reason,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def gate(protection: AliasProtection) -> Gate:
    """The promotion gate of a protection: its stored suite, compared with the baseline alias's holder."""
    from llmloop.services.evaluate.gates import promotion_gate

    where = f"protection of {protection.name}@{protection.alias}"
    suite = checked_suite(protection.suite, source=where)
    result: Gate = promotion_gate(suite, baseline_alias=protection.baseline_alias)
    return result
