"""One seeded hash to a point in [0, 1): how llmloop makes a stable choice without keeping a table.

Traffic splits (a user sticks to a target), online-evaluation sampling (every pass and server picks the
same traces), dataset splits (a row keeps its split when others are added) all need the same property:
the answer depends on the key alone, never on order, process or ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import hashlib


def unit_hash(key: str) -> float:
    """SHA-256 of ``key``, its first 8 bytes read as a fraction of 2**64."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
