"""The template sandbox: rendering, syntax errors with line and column, escapes and bombs refused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from llmloop.errors import InvalidInput
from llmloop.services.prompts.templating import MAX_ITERATIONS, compile_template


def render(source: str, **values: object) -> str:
    return compile_template(source, where="messages[0]").render(dict(values))


def test_plain_and_structured_templates_render_like_jinja() -> None:
    assert render("Hi {{ name }}, {{ n }} {{ ok }}!", name="Ann", n=3, ok=True) == "Hi Ann, 3 True!"
    out = render(
        "{% for c in cities %}{{ loop.index }}. {{ c.name|upper }} ({{ c['country'] }}){% if not loop.last %}; "
        "{% endif %}{% endfor %}",
        cities=[{"name": "rome", "country": "IT"}, {"name": "lyon", "country": "FR"}],
    )
    assert out == "1. ROME (IT); 2. LYON (FR)"
    assert (
        render("{{ ', '.join(xs) }} {{ xs|length }} {{ 'a b'.split()|join('-') }}", xs=["a", "b"])
        == "a, b 2 a-b"
    )
    assert render("line\n{{ x }}\n", x=1) == "line\n1\n"  # trailing newline kept


def test_fast_path_matches_jinja_path() -> None:
    fast = compile_template("a {{ x }} b {{ y }} c", where="t")
    slow = compile_template("a {{ x }} b {{ y|string }} c", where="t")
    assert fast.parts is not None and slow.parts is None
    for values in ({"x": "1", "y": 2}, {"x": None, "y": 2.5}, {"x": [1], "y": {"k": 1}}):
        assert fast.render(values) == slow.render(values)


@pytest.mark.parametrize(
    ("source", "line", "column"),
    [
        ("Hello {{ name }}\nline two {{ a + }} end", 2, 17),
        ("{% for x in y %}\n  {{ x }", 2, 8),
        ('ok\n{{ "abc }}', 2, 4),
        ("ok\n  {% endfor %}", 2, 6),
        ("hi\n{{ a|nofilter }}", 2, 6),
        ("{{ a b }}", 1, 6),
    ],
)
def test_syntax_errors_name_line_and_column(source: str, line: int, column: int) -> None:
    with pytest.raises(InvalidInput) as err:
        compile_template(source, where="messages[1]")
    assert err.value.details["line"] == line
    assert err.value.details["column"] == column
    assert err.value.message.startswith(f"messages[1] line {line}, column {column}: template syntax error")


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ x['__class__'] }}",
        "{{ x._private }}",
        "{% for c in x.__class__.__subclasses__() %}{% endfor %}",
        "{{ _secret }}",
    ],
)
def test_private_names_are_refused_at_compile_time(source: str) -> None:
    with pytest.raises(InvalidInput, match="is not allowed") as err:
        compile_template(source, where="template")
    assert err.value.details["name"].startswith("_")
    assert err.value.details["line"] == 1 and err.value.details["column"] >= 1


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ x|attr('__class__') }}", "No filter named 'attr'"),
        ("{% include 'other.txt' %}", "cannot extend, include or import"),
        ("{{ '{0.__class__}'.format(x) }}", "str.format is not available"),
        ("{{ d.pop('a') }}", "blocked by the template sandbox"),
        ("{{ d.update({'a': 2}) }}", "blocked by the template sandbox"),
        ("{{ lipsum() }}", "'lipsum' is undefined"),
        ("{{ x[key] }}", "blocked by the template sandbox"),
        ("{{ (x|list)[0][key] }}", "blocked by the template sandbox"),
        ("{{ obj.parent.parent }}", "blocked by the template sandbox"),
        ("{{ obj.read_text() }}", "blocked by the template sandbox"),
    ],
)
def test_python_internals_and_mutation_are_out_of_reach(source: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):  # only plain data has attributes in a template
        render(source, x="s", d={"a": 1}, obj=Path("/etc/hostname"), key="__class__")


def test_filters_reaching_for_private_attributes_get_nothing() -> None:
    assert render("{{ xs|map(attribute='__class__')|list }}", xs=["a"]) == "[Undefined]"
    assert render("{{ xs|groupby('__class__') }}", xs=["a"]) == "[(Undefined, ['a'])]"
    with pytest.raises(InvalidInput, match="blocked by the template sandbox"):
        render("{{ xs|selectattr('__class__')|list }}", xs=["a"])


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{% for i in range(10**9) %}{% endfor %}", "range\\(\\) of 1,000,000,000 items"),
        ("{{ 'x' * 10**9 }}", "str \\* 1000000000"),
        ("{{ [1] * 10**8 }}", "list \\* 100000000"),
        ("{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}", "100,000 times"),
        (
            "{% for a in range(5000) %}{% for b in range(10) %}{{ 'y' * 100 }}{% endfor %}{% endfor %}",
            "output",
        ),
        ("{{ 2 ** 100000 }}", "too large a number"),
        ("{{ 'x'|center(10**9) }}", "\\|center"),
        ("{{ 'x'.ljust(10**9) }}", "str.ljust"),
        ("{{ '%999999999d' % 1 }}", "width or precision"),
        ("{{ '%999999999d'|format(1) }}", "width or precision"),
        ("{{ ('ab' * 1000)|replace('a', 'x' * 10000) }}", "\\|replace"),
        ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "recursion"),
        (
            "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
            "times|longer|builds past",
        ),
    ],
)
def test_runaway_loops_and_output_bombs_stop_fast(source: str, message: str) -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidInput, match=message) as err:
        render(source)
    assert err.value.details["reason"] == "limit"
    assert time.perf_counter() - started < 5


def test_cpu_bombs_hit_the_deadline() -> None:
    source = (
        "{% set x = 'ab' * 250000 %}{% for i in range(9000) %}{% for j in range(9) %}"
        "{{ (x|replace('a', 'b'))[:0] }}{% endfor %}{% endfor %}"
    )
    with pytest.raises(InvalidInput, match=r"longer than|builds past"):
        render(source)


def test_loop_budget_is_per_render() -> None:
    tpl = compile_template("{% for i in items %}{% endfor %}ok", where="t")
    items = list(range(MAX_ITERATIONS // 2))
    assert tpl.render({"items": items}) == "ok"
    assert tpl.render({"items": items}) == "ok"  # a second render starts from zero


def test_runtime_errors_name_the_line() -> None:
    with pytest.raises(InvalidInput) as err:
        render("first\nsecond {{ user.nmae }}", user={"name": "a"})
    assert err.value.details == {"where": "messages[0]", "line": 2, "reason": "undefined"}
    assert "no attribute 'nmae'" in err.value.message
