"""``store verify`` through both clients: the same report, damage included."""

from __future__ import annotations

from tests.integration.client.conftest import Pair

COVERED = {"store.verify", "store.repair"}


def test_verify_reports_the_same_through_both_clients(pair: Pair) -> None:
    blobs = [pair.local.ctx.artifacts.put_bytes(f"blob {i}".encode()).sha256 for i in range(2)]
    report = pair.same(lambda c: c.store.verify())
    assert report["ok"] and report["checked"] == 2 and report["corrupted"] == []
    path = pair.home / "artifacts" / "sha256" / blobs[1][:2] / blobs[1][2:]
    path.write_bytes(b"bitrot")
    damaged = pair.same(lambda c: c.store.verify())
    assert not damaged["ok"] and damaged["corrupted"] == [blobs[1]]


def test_repair_reports_the_same_through_both_clients(pair: Pair) -> None:
    orphan = pair.local.ctx.artifacts.put_bytes(b"linked to nothing").sha256
    first = pair.same(lambda c: c.store.verify())
    assert orphan in first["orphans"] and first["removed"] == []
    kept = pair.same(lambda c: c.store.repair())  # too young: an upload may be about to link it
    assert kept["orphans"] == first["orphans"] and kept["removed"] == []
