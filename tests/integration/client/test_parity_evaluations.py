"""Evaluations through both clients: same JSON, same errors; gating with a suite reaches the server."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integration.client.conftest import Pair
from tests.integration.evaluate.eval_fixtures import answering, write_suite

from llmloop.errors import InvalidInput, NotFound, Unavailable
from llmloop.services.evaluate.schemas import CompareRequest, GateCheckRequest

COVERED = {
    "evaluations.list",
    "evaluations.get",
    "evaluations.examples",
    "evaluations.compare",
    "evaluations.diff",
    "evaluations.gate",
    "evaluations.gate_suite",
}


@pytest.fixture(scope="module")
def stored(pair: Pair, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(weak, strong) evaluation ids of the QA suite, run locally over the shared store."""
    suite = write_suite(tmp_path_factory.mktemp("suite"))
    weak = pair.local.evaluations.run_suite(suite, model=answering(set(range(0, 40, 2))), project="parity")
    strong = pair.local.evaluations.run_suite(suite, model=answering(set(range(36))), project="parity")
    return weak.id, strong.id


def test_stored_evaluations_read_the_same(pair: Pair, stored: tuple[str, str]) -> None:
    weak, strong = stored
    page = pair.same(lambda c: c.evaluations.list_evaluations(project="parity", limit=10))
    assert {e["id"] for e in page["items"]} == {weak, strong}
    got = pair.same(lambda c: c.evaluations.get_evaluation(strong[:12]))  # a unique prefix resolves
    assert got["metrics"]["exact_match"]["score"] == pytest.approx(0.9)
    examples = pair.same(lambda c: c.evaluations.list_examples(weak, limit=5, worst_first="exact_match"))
    assert len(examples["items"]) == 5 and all(x["scores"]["exact_match"] == 0 for x in examples["items"])
    assert pair.same_error(lambda c: c.evaluations.get_evaluation("0123456789abcdef")) is NotFound


def test_comparisons_and_gate_checks_agree(pair: Pair, stored: tuple[str, str]) -> None:
    weak, strong = stored
    cmp = pair.same(lambda c: c.evaluations.compare(CompareRequest(ids=[weak, strong], n_resamples=200)))
    delta = {d["key"]: d for d in cmp["pairs"][0]["metrics"]}["exact_match"]
    assert delta["delta"] == pytest.approx(0.4) and delta["verdict"] == "better"
    wins = pair.same(lambda c: c.evaluations.diff_examples(weak, strong, outcome="wins", limit=10))
    assert (wins["key"], wins["total"], len(wins["items"])) == ("exact_match", 18, 10)
    rest = pair.same(
        lambda c: c.evaluations.diff_examples(
            weak, strong, outcome="wins", page_token=wins["next_page_token"]
        )
    )
    assert [x["example_id"] for x in rest["items"]][-1] == "q35" and rest["next_page_token"] is None
    assert pair.same_error(lambda c: c.evaluations.diff_examples(weak, strong, key="nope")) is InvalidInput
    rules = ["exact_match >= 0.8", "exact_match better than baseline (95% CI)"]
    verdict = pair.same(
        lambda c: c.evaluations.check_gates(GateCheckRequest(rules=rules, candidate=strong, baseline=weak))
    )
    assert verdict["passed"] is True
    failed = pair.same(lambda c: c.evaluations.check_gates(GateCheckRequest(rules=rules, candidate=weak)))
    assert failed["passed"] is False  # a gate that says no is a verdict, not an error
    bad = GateCheckRequest(rules=["exact_match >>= 1"], candidate=strong)
    assert pair.same_error(lambda c: c.evaluations.check_gates(bad)) is InvalidInput


def test_gating_with_a_suite_is_one_service_through_both_clients(pair: Pair, tmp_path: Path) -> None:
    registered = tmp_path / "registered.yaml"
    registered.write_text(
        "name: reg\ndataset: {ref: parity-qa@1}\nmetrics: [exact_match]\ngates: ['exact_match >= 0.5']\n"
    )
    # checked in the service before any generation, the same way through either door
    assert pair.same_error(lambda c: c.evaluations.gate_suite(registered, candidate="nope@1")) is NotFound
    no_gates = tmp_path / "no-gates.yaml"
    no_gates.write_text("name: bare\ndataset: {ref: parity-qa@1}\nmetrics: [exact_match]\n")
    assert pair.same_error(lambda c: c.evaluations.gate_suite(no_gates, candidate="nope@1")) is InvalidInput
    typo = tmp_path / "typo.yaml"
    typo.write_text(
        "name: t\ndataset: {ref: parity-qa@1}\nmetrics: [exact_match]\ngates: ['exact_match >>= 1']\n"
    )
    assert pair.same_error(lambda c: c.evaluations.gate_suite(typo, candidate="nope@1")) is InvalidInput


def test_a_server_refuses_what_only_the_callers_machine_has(pair: Pair, tmp_path: Path) -> None:
    suite = write_suite(tmp_path, gates=["exact_match >= 0.5"])
    with pytest.raises(InvalidInput, match=r"dataset\.path"):
        pair.remote.evaluations.gate_suite(suite, candidate="tiny@1")
    with pytest.raises(InvalidInput, match="callable"):
        pair.remote.evaluations.gate_suite(suite, candidate=answering({1}))
    with pytest.raises(Unavailable, match="LLMLOOP_SERVER_URL"):
        pair.remote.evaluations.run_suite(suite, model="tiny@1")
    verdict = pair.local.evaluations.gate_suite(suite, candidate=answering(set(range(30))), project="parity")
    assert verdict.passed  # the same suite gates locally, where its file is
