"""Small templates that try to make the renderer spend memory or time are refused before they do.

Each attack is a few dozen bytes; the renderer must answer ``InvalidInput`` (reason ``limit``)
while tracemalloc sees less than ``MEMORY_BUDGET`` of growth at its peak, and within seconds.
The checks must run *before* the work: a limit checked on a result already built is no limit.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest

from llmloop.errors import InvalidInput
from llmloop.services.prompts.templating import compile_template

MEMORY_BUDGET = 20 * 2**20
SET_A = "{% set a = 'x' * 999999 %}"
SET_B = "{% set b = ['x' * 999999] %}"

ATTACKS = [
    # |join and |sum build their result from many references to one big string
    ("join", SET_A + "{{ ([a] * 1000) | join }}"),
    ("join sep", SET_A + "{{ range(1000) | join(a) }}"),
    ("join attribute", SET_A + "{{ ([{'k': a}] * 1000) | join(attribute='k') }}"),
    ("str.join", SET_A + "{{ ''.join([a] * 1000) }}"),
    ("sum lists", SET_B + "{{ ([b * 10000] * 1000) | sum(start=[]) | length }}"),
    ("sum quadratic", "{{ ([[1] * 1000] * 1000) | sum(start=[]) | length }}"),
    # ~ concatenation and + in expressions
    ("tilde", SET_A + "{{ (a ~ a ~ a ~ a) | length }}"),
    ("tilde chain", SET_A + "{% set b = a ~ a %}{% set c = b ~ b %}{{ (c ~ c) | length }}"),
    ("plus chain", SET_A + "{{ [a + a, a + a, a + a, a + a, a + a, a + a, a + a, a + a, a + a] | length }}"),
    # str() of a structure that shares one big value many times
    ("print shared list", SET_A + "{{ [a] * 1000 }}"),
    ("string filter", SET_A + "{{ ([a] * 1000) | string | length }}"),
    ("tojson shared", SET_A + "{{ ([a] * 1000) | tojson | length }}"),
    ("percent shared", SET_A + "{{ ('%s' % ([a] * 1000,)) | length }}"),
    ("format shared", SET_A + "{{ '%s%s%s%s'|format(a, a, a, a) | length }}"),
    ("doubling nest", SET_A + "{% set b = [a, a] %}{% set c = [b, b] %}{% set d = [c, c] %}{{ [d, d] }}"),
    # growth filters and methods with a huge size argument
    ("center", "{{ 'x' | center(10**8) }}"),
    ("indent", "{% set a = 'x\\n' * 400000 %}{{ a | indent(100) | length }}"),
    ("wordwrap wrapstring", SET_A + "{{ a | wordwrap(1, wrapstring='y' * 1000) | length }}"),
    ("batch fill", "{{ [1] | batch(10**8, 'x') | list | length }}"),
    ("slice fill", "{{ [1] | slice(10**8) | list | length }}"),
    ("replace", SET_A + "{{ a | replace('x', 'yy') | replace('y', 'zz') | length }}"),
    ("translate", "{{ ('x' * 10000).translate({120: 'y' * 10000}) | length }}"),
    ("to_bytes", "{{ (1).to_bytes(10**9, 'big') | length }}"),
    ("int multiply", "{% set x = 2 ** 4000 %}{{ x * x * x * x * x * x * x * x * x * x }}"),
    ("tojson indent", "{{ [[[[[1]]]]] | tojson(indent=10**7) | length }}"),
    ("list of string", SET_A + "{{ [a | list, a | list, a | list] | length }}"),
    ("slices held", SET_A + "{{ [a[1:], a[2:], a[3:], a[4:], a[5:], a[6:], a[7:], a[8:], a[9:]] | length }}"),
    # output built inside macros, call blocks, filter blocks and block sets escapes the output cap
    (
        "macro buffer",
        SET_A
        + "{% macro m() %}{% for i in range(1000) %}{{ a }}{% endfor %}{% endmacro %}{{ m() | length }}",
    ),
    (
        "filter block",
        SET_A + "{% filter upper %}{% for i in range(1000) %}{{ a }}{% endfor %}{% endfilter %}",
    ),
    (
        "block set",
        "{% set t %}{% for i in range(10000) %}" + "y" * 2000 + "{% endfor %}{% endset %}{{ t | length }}",
    ),
    (
        "macro recursion holds",
        "{% macro f(n, s) %}{% if n %}{{ f(n - 1, s ~ 'x' * 999990) | length }}{% endif %}{% endmacro %}{{ f(200, '') }}",
    ),
]


@pytest.mark.parametrize(("name", "source"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_small_attack_templates_are_refused_before_memory_is_spent(name: str, source: str) -> None:
    assert len(source) < 2500
    template = compile_template(source, where="t")
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        started = time.perf_counter()
        with pytest.raises(InvalidInput) as err:
            template.render({})
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.value.details["reason"] == "limit", err.value.message
    assert "render limit" in err.value.message
    assert peak - start < MEMORY_BUDGET, f"{name}: peak growth {(peak - start) / 2**20:.0f} MiB"
    assert elapsed < 5


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ ['a', 'b'] | join(', ') }}", "a, b"),
        ("{{ [1, 2, 3] | sum }}", "6"),
        ("{{ [[1], [2]] | sum(start=[]) }}", "[1, 2]"),
        ("{{ 'a' ~ 1 ~ [2] }}", "a1[2]"),
        ("{{ 'abcdef'[1:3] }}{{ [1, 2, 3][::-1] }}", "bc[3, 2, 1]"),
        ("{{ 'ab' | center(6) }}|{{ 'a\nb' | indent(2, first=true) }}", "  ab  |  a\n  b"),
        ("{{ [1, 2, 3] | batch(2, 0) | list }}", "[[1, 2], [3, 0]]"),
        ("{{ {'k': 'v'} | tojson(indent=2) }}", '{\n  "k": "v"\n}'),
        ("{% macro m(x) %}<{{ x }}>{% endmacro %}{% for i in range(3) %}{{ m(i) }}{% endfor %}", "<0><1><2>"),
        ("{% filter upper %}{% for i in range(2) %}ab{% endfor %}{% endfilter %}", "ABAB"),
        ("{{ ('x' * 1000) | length }} {{ (2 ** 64) * 3 }}", "1000 55340232221128654848"),
        ("{{ ','.join(['a', 'b']) }} {{ 'ab'.translate({97: 'xy'}) }}", "a,b xyb"),
    ],
)
def test_ordinary_templates_still_render(source: str, expected: str) -> None:
    assert compile_template(source, where="t").render({}) == expected
