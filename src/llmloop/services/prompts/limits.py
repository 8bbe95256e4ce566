"""The render budget of the template sandbox: every value a template builds is paid for before it exists.

A template of sixty bytes can ask for gigabytes (``[a] * 1000 | join``, ``a ~ a ~ a``, ``str()``
of a list that shares one big string a thousand times), so a limit checked on a result already
built is no limit. The rule here is one: each operation that can produce something larger than
its inputs *estimates* the size of its result (an upper bound, in bytes), and ``charge`` refuses
it when that one value would pass ``MAX_VALUE_CHARS``/``MAX_VALUE_BYTES`` or when all values built
in this render would pass ``MAX_RENDER_BYTES`` — before the work. Garbage counts too, so the bound
covers time as well as memory. The sandbox (``templating``) routes every such operation here:
filters (``guard_filter``), string and number methods (``estimate_call``), the operators
(``check_binop``), ``~`` (``concat``), slicing (``slice_of``), printed values (``finalize``) and
the text that loops and macros emit (``emit``).
"""

from __future__ import annotations

import contextvars
import functools
import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import pass_context
from jinja2.filters import make_attrgetter
from jinja2.runtime import Context
from jinja2.utils import _PassArg

MAX_VALUE_CHARS = 1_000_000  # one string (and the whole output)
MAX_VALUE_BYTES = 4_000_000  # one value of any kind
MAX_RENDER_BYTES = 8_000_000  # everything one render builds, garbage included
MAX_ITERATIONS = 100_000
MAX_RANGE = 10_000
MAX_INT_BITS = 8192
MAX_JSON_INDENT = 16
MAX_RENDER_SECONDS = 2.0

_LIST_ITEM = 8  # a pointer per item of a list or tuple
_STR_OBJECT = sys.getsizeof("")  # what a str costs before its characters
_PERCENT_SPEC = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


class RenderLimitError(Exception):
    """A template went past one of the render limits (size of a value, of the render, loops, time)."""


class Budget:
    """What one render has spent: loop iterations and calls, bytes built, and its deadline."""

    __slots__ = ("bytes", "deadline", "iterations")

    def __init__(self) -> None:
        self.iterations = 0
        self.bytes = 0
        self.deadline = time.perf_counter() + MAX_RENDER_SECONDS


current: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("llmloop_render_budget", default=None)


def tick() -> None:
    """Count one loop iteration or call against the render's budget (and look at the clock)."""
    budget = current.get()
    if budget is not None:
        budget.iterations += 1
        if budget.iterations > MAX_ITERATIONS:
            raise RenderLimitError(f"loops and calls ran more than {MAX_ITERATIONS:,} times in one render")
        if time.perf_counter() > budget.deadline:
            raise RenderLimitError(f"rendering took longer than {MAX_RENDER_SECONDS} s")


def charge(nbytes: int, what: str, *, chars: int | None = None) -> None:
    """Pay for a value of ``nbytes`` (``chars`` characters, for text) that is about to be built."""
    if chars is not None and chars > MAX_VALUE_CHARS:
        raise RenderLimitError(f"{what} would be {chars:,} characters long; the limit is {MAX_VALUE_CHARS:,}")
    if nbytes > MAX_VALUE_BYTES:
        raise RenderLimitError(f"{what} would take {nbytes:,} bytes; the limit is {MAX_VALUE_BYTES:,}")
    budget = current.get()
    if budget is not None:
        budget.bytes += nbytes
        if budget.bytes > MAX_RENDER_BYTES:
            raise RenderLimitError(
                f"{what} would bring what this render builds past {MAX_RENDER_BYTES:,} bytes"
            )


def _width(*texts: Any) -> int:
    """Bytes per character of a string built from ``texts`` (CPython stores ASCII in one byte)."""
    return 1 if all(t.isascii() for t in texts if isinstance(t, str)) else 4


def charge_text(chars: int, what: str, *sources: Any) -> None:
    charge(_STR_OBJECT + chars * _width(*sources), what, chars=chars)


def charge_built(value: Any, what: str) -> None:
    """Pay for a value a harmless operation already built (bounded by its inputs, so the peak is too)."""
    if isinstance(value, str):
        charge(sys.getsizeof(value), what, chars=len(value))
    elif isinstance(value, (list, tuple, dict, set, bytes, int)):
        charge(sys.getsizeof(value), what)


def text_size(value: Any, limit: int = MAX_VALUE_CHARS) -> int:
    """An upper bound on ``len(str(value))``, walking containers and stopping once past ``limit``.

    Shared references count each time they print, so a list holding one big string a thousand
    times is as large as it prints; the walk costs at most ``limit`` steps (every item prints at
    least one character).
    """
    if isinstance(value, str):
        return len(value)
    total = 0
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += 2 + (len(repr(item)) if len(item) < 4096 else 4 * len(item))
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() * 3 // 10 + 2
        elif isinstance(item, float):
            total += 24
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(item)
            stack.extend(item)
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            total += 200  # a macro, loop or undefined prints a short fixed text
        if total > limit:
            return total
    return total


def to_text(value: Any, what: str) -> str:
    """``str(value)``, paid for first."""
    if isinstance(value, str):
        return value
    charge_text(text_size(value), what)
    return str(value)


def finalize(value: Any) -> Any:
    """Every ``{{ value }}`` that prints: it is turned into text, so that text is paid for."""
    charge_text(text_size(value), "a printed value", value)
    return value


@pass_context
def emit(_context: Context, text: str) -> str:
    """Template text inside a loop or macro: each repetition is copied into a buffer, so it costs."""
    charge_text(len(text), "template text repeated by a loop or macro", text)
    return text


@pass_context
def concat(_context: Context, parts: list[Any]) -> str:
    """``a ~ b ~ c``: the length of the joined text is known before joining."""
    texts = [to_text(p, "an operand of ~") for p in parts]
    charge_text(sum(map(len, texts)), "a ~ concatenation", *texts)
    return "".join(texts)


@pass_context
def slice_of(_context: Context, value: Any, start: Any, stop: Any, step: Any) -> Any:
    """``value[start:stop:step]``: a copy, paid for by its length."""
    s = slice(start, stop, step)
    if isinstance(value, (str, list, tuple)):
        n = len(range(*s.indices(len(value))))
        if isinstance(value, str):
            charge_text(n, "a slice", value)
        else:
            charge(n * _LIST_ITEM, "a slice")
    return value[s]


def bounded_list(value: Iterable[Any], what: str) -> list[Any]:
    """``list(value)``, paying for each item as it arrives (a generator's length is not known)."""
    if isinstance(value, (list, tuple)):
        charge(sys.getsizeof(value), what)
        return list(value)
    items: list[Any] = []
    for item in value:
        charge(_LIST_ITEM + (sys.getsizeof(item) if isinstance(item, str) else 0), what)
        items.append(item)
    return items


def check_percent(fmt: str, args: Any, what: str) -> None:
    """``fmt % args``: refuse ``*`` and huge widths, and pay for the formatted text."""
    chars = len(fmt)
    for m in _PERCENT_SPEC.finditer(fmt):
        for part in m.groups():
            if part == "*" or (part is not None and int(part) > MAX_VALUE_CHARS):
                raise RenderLimitError("a %-format width or precision is too large")
            if part is not None:
                chars += int(part)
    values = args if isinstance(args, tuple) else (args,)
    if isinstance(args, dict):
        values = tuple(args.values())
    chars += sum(text_size(v) for v in values)
    charge_text(chars, what, fmt, *values)


def check_binop(operator: str, left: Any, right: Any) -> None:
    """``*``, ``**``, ``+`` and ``%`` with the size of their result paid for before they run."""
    what = f"{type(left).__name__} {operator} {type(right).__name__}"
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "*":
        if ints:
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise RenderLimitError(f"{what} is too large a number")
            return
        for seq, n in ((left, right), (right, left)):
            if isinstance(n, int) and isinstance(seq, str):
                charge_text(len(seq) * max(n, 0), f"str * {n}", seq)
            elif isinstance(n, int) and isinstance(seq, (list, tuple)):
                charge(len(seq) * max(n, 0) * _LIST_ITEM, f"{type(seq).__name__} * {n}")
    elif operator == "**":
        if ints and abs(left) > 1 and right * math.log2(abs(left)) > MAX_INT_BITS:
            raise RenderLimitError(f"{left} ** {right} is too large a number")
    elif operator == "+":
        if isinstance(left, str) and isinstance(right, str):
            charge_text(len(left) + len(right), "a concatenation", left, right)
        elif isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
            charge((len(left) + len(right)) * _LIST_ITEM, "a concatenation")
    elif operator == "%" and isinstance(left, str):
        check_percent(left, right, "a %-format")


def join(environment: Any, value: Iterable[Any], d: str = "", attribute: str | int | None = None) -> str:
    """``|join`` and ``str.join``: each item becomes text and is paid for before the join."""
    if attribute is not None:
        value = map(make_attrgetter(environment, attribute), value)
    d = to_text(d, "a join separator")
    texts: list[str] = []
    chars = 0
    for item in value:
        text = to_text(item, "an item of a join")
        chars += len(text) + (len(d) if texts else 0)
        charge(_LIST_ITEM, "a join")
        if chars > MAX_VALUE_CHARS:
            raise RenderLimitError(f"a join would be over {MAX_VALUE_CHARS:,} characters long")
        texts.append(text)
    charge_text(chars, "a join", d, *texts)
    return d.join(texts)


def sum_of(
    environment: Any, iterable: Iterable[Any], attribute: str | int | None = None, start: Any = 0
) -> Any:
    """``|sum``: a fold of ``+``, each partial sum paid for (summing lists is quadratic work)."""
    if attribute is not None:
        iterable = map(make_attrgetter(environment, attribute), iterable)
    total = start
    for item in iterable:
        tick()
        check_binop("+", total, item)
        total = total + item
    return total


def _text_target(args: tuple[Any, ...]) -> str | None:
    return args[0] if args and isinstance(args[0], str) else None


def _int_arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, key: str, default: int) -> int:
    value = args[index] if len(args) > index else kwargs.get(key, default)
    return value if isinstance(value, int) else default


def _est_pad(t: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    return max(len(t), _int_arg(args, kwargs, 0, "width", 0))


def _est_expandtabs(t: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    return len(t) + t.count("\t") * _int_arg(args, kwargs, 0, "tabsize", 8)


def _est_indent(t: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    width = args[0] if args else kwargs.get("width", 4)
    n = len(width) if isinstance(width, str) else (width if isinstance(width, int) else 4)
    return len(t) + (t.count("\n") + 1) * max(n, 0)


def _est_replace(t: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    old, new = (*args, None, None)[:2]
    if not (isinstance(old, str) and isinstance(new, str)):
        return len(t)
    hits = t.count(old) if old else len(t) + 1
    return len(t) + hits * max(0, len(new) - len(old))


def _est_wordwrap(t: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    wrap = args[2] if len(args) > 2 else kwargs.get("wrapstring")
    wrap_len = len(wrap) if isinstance(wrap, str) else 2
    return len(t) + (len(t) + 1) * wrap_len


def _est_translate(t: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    table = args[0] if args else None
    longest = (
        max((len(v) for v in table.values() if isinstance(v, str)), default=1)
        if isinstance(table, dict)
        else 1
    )
    return len(t) * max(longest, 1)


def _est_truncate(t: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    end = args[2] if len(args) > 2 else kwargs.get("end", "...")
    return len(t) + (len(end) if isinstance(end, str) else 0)


# Text operations whose result can be longer than their input: name -> bound on its length (chars).
_TEXT_GROWTH: dict[str, Callable[[str, tuple[Any, ...], dict[str, Any]], int]] = {
    "center": _est_pad,
    "ljust": _est_pad,
    "rjust": _est_pad,
    "zfill": _est_pad,
    "expandtabs": _est_expandtabs,
    "indent": _est_indent,
    "replace": _est_replace,
    "wordwrap": _est_wordwrap,
    "translate": _est_translate,
    "truncate": _est_truncate,
}
# Filters that read a whole iterable into a list: they read it through ``bounded_list``.
_CONSUMERS = frozenset({"batch", "dictsort", "groupby", "list", "reverse", "slice", "sort", "unique"})
_PRE_CHARGED = frozenset({*_TEXT_GROWTH, "e", "escape", "string", "tojson", "format"})


def _pre_filter(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Pay for the result of filter ``name`` on ``args`` before it runs, where it can grow."""
    value = args[0] if args else None
    rest = args[1:]
    if name in _TEXT_GROWTH and isinstance(value, str):
        charge_text(_TEXT_GROWTH[name](value, rest, kwargs), f"the result of |{name}", value, *rest)
    elif name in {"e", "escape"}:
        charge_text(6 * text_size(value), f"the result of |{name}", value)
    elif name == "string":
        charge_text(text_size(value), "the result of |string", value)
    elif name == "tojson":
        indent = _int_arg(rest, kwargs, 0, "indent", 0)
        if indent > MAX_JSON_INDENT:
            raise RenderLimitError(f"|tojson indent is {indent:,}; the limit is {MAX_JSON_INDENT}")
        size = text_size(value)
        charge_text(6 * size + size * indent * min(size, 64), "the result of |tojson")
    elif name == "format" and isinstance(value, str):
        check_percent(value, kwargs or rest, "the result of |format")
    elif name == "batch":
        if kwargs.get("fill_with", rest[1] if len(rest) > 1 else None) is not None:
            charge(_int_arg(rest, kwargs, 0, "linecount", 0) * _LIST_ITEM, "the result of |batch")
    elif name == "slice":
        charge(_int_arg(rest, kwargs, 0, "slices", 0) * sys.getsizeof([]), "the result of |slice")


_OWN_FILTERS: dict[str, Callable[..., Any]] = {"join": join, "sum": sum_of}


def guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Filter ``name`` with its result paid for: estimated first where it can grow, else as built.

    The guard passes the context, which also keeps Jinja from running the filter at compile
    time, where no budget is counting.
    """
    own = _OWN_FILTERS.get(name)
    pass_arg = _PassArg.from_obj(func)

    @pass_context
    @functools.wraps(func)
    def guarded(context: Context, *args: Any, **kwargs: Any) -> Any:
        tick()
        if own is not None:
            return own(context.environment, *args, **kwargs)
        if name in _CONSUMERS and args and not isinstance(args[0], (str, dict)):
            args = (bounded_list(args[0], f"the input of |{name}"), *args[1:])
        elif name in _CONSUMERS and isinstance(args[0] if args else None, str):
            charge(len(args[0]) * (_LIST_ITEM + _STR_OBJECT), f"the input of |{name}")
        _pre_filter(name, args, kwargs)
        first: tuple[Any, ...] = ()
        if pass_arg is _PassArg.context:
            first = (context,)
        elif pass_arg is _PassArg.eval_context:
            first = (context.eval_ctx,)
        elif pass_arg is _PassArg.environment:
            first = (context.environment,)
        result = func(*first, *args, **kwargs)
        if name not in _PRE_CHARGED:
            charge_built(result, f"the result of |{name}")
        return result

    return guarded


def estimate_call(environment: Any, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any | None:
    """Pay for a method call's result before it runs; returns a replacement result for ``str.join``."""
    owner = getattr(func, "__self__", None)
    name = getattr(func, "__name__", "")
    if isinstance(owner, str):
        if name == "join" and args:
            return join(environment, args[0], owner)
        if name in _TEXT_GROWTH:
            charge_text(_TEXT_GROWTH[name](owner, args, kwargs), f"the result of str.{name}", owner, *args)
        elif name in {"split", "rsplit", "splitlines"}:
            sep = args[0] if args and isinstance(args[0], str) and args[0] else None
            parts = owner.count(sep) + 1 if sep is not None else len(owner) // 2 + 1
            charge(parts * (_LIST_ITEM + _STR_OBJECT) + len(owner), f"the result of str.{name}")
    elif isinstance(owner, int) and name == "to_bytes":
        charge(_int_arg(args, kwargs, 0, "length", 1), "the result of int.to_bytes")
    return None


def bounded_iter(value: Any) -> Iterator[Any]:
    """What every ``{% for %}`` loops over: each iteration is counted."""
    for item in value:
        tick()
        yield item


def bounded_range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise RenderLimitError(f"range() of {len(r):,} items; the limit is {MAX_RANGE:,}")
    return r
