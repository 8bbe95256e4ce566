"""The batcher's prefix cache: which stored start serves which prompts, and what it keeps."""

from __future__ import annotations

import torch

from llmloop.engines.batcher import PREFIX_MIN_TOKENS, PrefixCache, common_prefix


def layers(n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Two layers' keys/values for n tokens whose entries name their position (to check slicing)."""
    k = torch.arange(n, dtype=torch.float32).view(1, 1, n, 1)
    return [(k, -k), (k + 100, -k - 100)]


def test_common_prefix_counts_leading_equal_tokens() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix((1, 2), [1, 2, 3]) == 2
    assert common_prefix([], [1]) == 0


def test_a_stored_start_serves_any_leading_part_of_itself() -> None:
    cache = PrefixCache()
    start = list(range(100))
    cache.put(start, layers(100))
    n, kv = cache.match([[*start[:60], 999, 1], [*start[:80], 7]])
    assert n == 60
    assert kv[0][0].shape[2] == 60 and float(kv[0][0][0, 0, -1, 0]) == 59.0
    assert float(kv[1][1][0, 0, 0, 0]) == -100.0


def test_every_prompt_keeps_a_token_to_prefill() -> None:
    cache = PrefixCache()
    start = list(range(50))
    cache.put(start, layers(50))
    n, _ = cache.match([start, [*start, 1]])
    assert n == 49  # the prompt equal to the start still prefills its last token


def test_a_short_shared_start_is_not_used() -> None:
    cache = PrefixCache()
    cache.put(list(range(100)), layers(100))
    n, kv = cache.match([[*list(range(PREFIX_MIN_TOKENS - 1)), -1, -2]])
    assert (n, kv) == (0, [])


def test_the_least_recently_used_start_is_dropped() -> None:
    cache = PrefixCache(entries=2)
    a, b, c = ([t] * 40 for t in (1, 2, 3))
    cache.put(a, layers(40))
    cache.put(b, layers(40))
    assert cache.match([[*a, 0]])[0] == 40  # a is now the most recent
    cache.put(c, layers(40))
    assert cache.match([[*b, 0]])[0] == 0 and cache.match([[*a, 0]])[0] == 40
