"""``store verify`` through both clients: the same report, damage included."""

from __future__ import annotations

from tests.integration.client.conftest import Pair

COVERED = {"store.verify"}


def test_verify_reports_the_same_through_both_clients(pair: Pair) -> None:
    blobs = [pair.local.ctx.artifacts.put_bytes(f"blob {i}".encode()).sha256 for i in range(2)]
    report = pair.same(lambda c: c.store.verify())
    assert report["ok"] and report["checked"] == 2 and report["corrupted"] == []
    path = pair.home / "artifacts" / "sha256" / blobs[1][:2] / blobs[1][2:]
    path.write_bytes(b"bitrot")
    damaged = pair.same(lambda c: c.store.verify())
    assert not damaged["ok"] and damaged["corrupted"] == [blobs[1]]
