"""Prompt templates: Jinja2 in a locked-down sandbox, compiled once, rendered fast.

Templates come from people and, through the API, from anyone with ``prompts:write``, so
rendering one must never reach Python internals or take the process down:

- ``ImmutableSandboxedEnvironment`` with ``StrictUndefined``; attributes starting with ``_``
  are refused already when the template is compiled, and at run time attribute access and
  calls are allowed only on plain data (str, numbers, lists, dicts), loops and macros;
- no globals but a bounded ``range``; a short list of filters, each checked for the size of
  what it returns; ``str.format`` is off (its width specs could build huge strings);
- ``*``, ``**``, ``+`` and ``%`` are checked *before* they run, so ``'x' * 10**9`` fails
  without allocating; every ``{% for %}`` iteration and every call counts against one budget
  per render, so nested loops and recursive macros stop at ``MAX_ITERATIONS``; output is capped at
  ``MAX_OUTPUT_CHARS``.

Errors are ``InvalidInput`` naming the template part and the line (and column, for syntax
errors). Templates with nothing but text and ``{{ variables }}`` skip the budget machinery,
which keeps a two-message render in the tens of microseconds.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import re
import time
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError, TemplateAssertionError, TemplateSyntaxError, UndefinedError
from jinja2.filters import FILTERS
from jinja2.lexer import TokenStream
from jinja2.meta import find_undeclared_variables
from jinja2.runtime import LoopContext, Macro, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from llmloop.errors import InvalidInput

MAX_SOURCE_CHARS = 100_000
MAX_OUTPUT_CHARS = 1_000_000
MAX_ITERATIONS = 100_000
MAX_RANGE = 10_000
MAX_POWER_BITS = 4096
MAX_RENDER_SECONDS = 2.0

_SAFE_TYPES = (str, int, float, bool, list, tuple, dict, type(None), LoopContext)
_SAFE_FILTERS = (
    *("abs", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first"),
    *("float", "groupby", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max"),
    *("min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "slice"),
    *("sort", "string", "striptags", "sum", "title", "tojson", "trim", "truncate", "unique", "upper"),
    *("wordcount", "wordwrap"),
)
_ITER_FILTER = "llmloop_bounded_iter"
_PERCENT_SPEC = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


class RenderLimitError(Exception):
    """A template went past one of the render limits (output size, loop iterations, operand size)."""


class _Budget:
    __slots__ = ("deadline", "iterations")

    def __init__(self) -> None:
        self.iterations = 0
        self.deadline = time.perf_counter() + MAX_RENDER_SECONDS


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "llmloop_render_budget", default=None
)
_last_token: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "llmloop_last_token", default=None
)


def _check_size(n: int, what: str) -> None:
    if n > MAX_OUTPUT_CHARS:
        raise RenderLimitError(f"{what} would be {n:,} items long; the limit is {MAX_OUTPUT_CHARS:,}")


def _tick(budget: _Budget | None) -> None:
    """Count one loop iteration or call against the render's budget."""
    if budget is not None:
        budget.iterations += 1
        if budget.iterations > MAX_ITERATIONS:
            raise RenderLimitError(f"loops and calls ran more than {MAX_ITERATIONS:,} times in one render")
        if time.perf_counter() > budget.deadline:
            raise RenderLimitError(f"rendering took longer than {MAX_RENDER_SECONDS} s")


def _bounded_iter(value: Any) -> Iterator[Any]:
    budget = _budget.get()
    for item in value:
        _tick(budget)
        yield item


def _bounded_range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise RenderLimitError(f"range() of {len(r):,} items; the limit is {MAX_RANGE:,}")
    return r


def _sized(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple)) else 0


def _estimate(name: str, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """An upper bound on the length a size-sensitive string operation would produce (0 when harmless)."""
    if not isinstance(target, str):
        return 0
    first = args[0] if args else kwargs.get("width", kwargs.get("tabsize", 0))
    if name in {"center", "ljust", "rjust", "zfill"}:
        return max(len(target), first if isinstance(first, int) else 0)
    if name == "expandtabs":
        return len(target) + target.count("\t") * (first if isinstance(first, int) else 8)
    if name == "indent":
        width = len(first) if isinstance(first, str) else (first if isinstance(first, int) else 4)
        return len(target) + (target.count("\n") + 1) * width
    if name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        hits = target.count(args[0]) if args[0] else len(target) + 1
        return len(target) + hits * max(0, len(args[1]) - len(args[0]))
    return 0


def _check_percent(fmt: str, args: Any) -> None:
    for m in _PERCENT_SPEC.finditer(fmt):
        for part in m.groups():
            if part == "*" or (part is not None and int(part) > MAX_OUTPUT_CHARS):
                raise RenderLimitError("a %-format width or precision is too large")


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        values = [a for a in args if not hasattr(a, "environment")]  # skip a passed context/env
        if values:
            _check_size(_estimate(name, values[0], tuple(values[1:]), kwargs), f"the result of |{name}")
            if name == "format" and isinstance(values[0], str):
                _check_percent(values[0], values[1:])
        result = func(*args, **kwargs)
        _check_size(_sized(result), f"the result of |{name}")
        return result

    return guarded


def _no_str_format(*_args: Any, **_kwargs: Any) -> str:
    raise SecurityError("str.format is not available in prompt templates; use {{ }} or the format filter")


class PromptEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox every prompt template is compiled in (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(
            undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, cache_size=0
        )
        self.globals.clear()
        self.globals["range"] = _bounded_range
        self.filters = {name: _guard_filter(name, FILTERS[name]) for name in [*_SAFE_FILTERS, "format"]}
        self.filters[_ITER_FILTER] = _bounded_iter

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return (
            not attr.startswith("_")
            and isinstance(obj, _SAFE_TYPES)
            and super().is_safe_attribute(obj, attr, value)
        )

    def is_safe_callable(self, obj: Any) -> bool:
        if obj is _bounded_range or obj is _no_str_format or isinstance(obj, (Macro, LoopContext, Undefined)):
            return True  # an Undefined raises its own clear error when called
        owner = getattr(obj, "__self__", None)
        return (
            isinstance(obj, (types.BuiltinMethodType, types.MethodType))
            and isinstance(owner, _SAFE_TYPES)
            and super().is_safe_callable(obj)
        )

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if not __self.is_safe_callable(__obj):
            raise SecurityError(
                f"calling {getattr(__obj, '__name__', type(__obj).__name__)!r} is not allowed"
            )
        _tick(_budget.get())  # macros can recurse without any loop: count calls too
        owner = getattr(__obj, "__self__", None)
        _check_size(_estimate(getattr(__obj, "__name__", ""), owner, args, kwargs), "a string method result")
        result = __context.call(__obj, *args, **kwargs)
        _check_size(_sized(result), "a call result")
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        return _no_str_format if super().wrap_str_format(value) is not None else None

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
                    _check_size(len(seq) * n, f"{type(seq).__name__} * {n}")
        elif operator == "**":
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and abs(left) > 1
                and right * math.log2(abs(left)) > MAX_POWER_BITS
            ):
                raise RenderLimitError(f"{left} ** {right} is too large a number")
        elif operator == "+":
            if _sized(left) and _sized(right):
                _check_size(len(left) + len(right), "a concatenation")
        elif operator == "%" and isinstance(left, str):
            _check_percent(left, right)
        return self.binop_table[operator](left, right)

    def _tokenize(
        self, source: str, name: str | None, filename: str | None = None, state: str | None = None
    ) -> TokenStream:
        """Tokens as usual, remembering where the last one started, so syntax errors get a column."""
        source = self.preprocess(source, name, filename)
        raw = self.lexer.tokeniter(source, name, filename, state)
        return TokenStream(self.lexer.wrap(_track_positions(raw, source), name, filename), name, filename)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Parse, then route every ``{% for %}`` through the iteration budget."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, _ITER_FILTER, [], [], None, None, lineno=loop.lineno)
        return tree


def _track_positions(raw: Iterable[tuple[int, str, str]], source: str) -> Iterator[tuple[int, str, str]]:
    text = source.replace("\r\n", "\n").replace("\r", "\n")
    cursor = 0
    for lineno, kind, value in raw:
        found = text.find(value, cursor) if value else -1
        if found >= 0:
            line = text.count("\n", 0, found) + 1
            col = found - (text.rfind("\n", 0, found) + 1) + 1
            if kind not in {"whitespace", "data"}:
                _last_token.set((line, col))
            cursor = found + len(value)
        yield lineno, kind, value


ENV = PromptEnvironment()


@dataclass(frozen=True)
class CompiledTemplate:
    """One compiled template part (a chat message's content, or a text template)."""

    where: str
    source: str
    template: Any  # jinja2.Template
    names: frozenset[str]
    simple: bool
    parts: tuple[tuple[bool, str], ...] | None  # text and {{ name }} only: (is_variable, text or name)
    fast: str | None  # those parts as a str.format_map pattern: format(v, "") is str(v), as Jinja prints

    def render(self, variables: dict[str, Any]) -> str:
        if self.fast is not None:
            try:
                return self.fast.format_map(variables)
            except KeyError:
                pass  # a missing name: Jinja below raises the clear error
        tmpl = self.template
        try:
            if self.simple:
                return "".join(tmpl.root_render_func(tmpl.new_context(variables)))
            token = _budget.set(_Budget())
            try:
                parts: list[str] = []
                size = 0
                for chunk in tmpl.root_render_func(tmpl.new_context(variables)):
                    size += len(chunk)
                    if size > MAX_OUTPUT_CHARS:
                        raise RenderLimitError(f"output is longer than {MAX_OUTPUT_CHARS:,} characters")
                    parts.append(chunk)
                return "".join(parts)
            finally:
                _budget.reset(token)
        except InvalidInput:
            raise
        except Exception as e:  # every template failure becomes one clear InvalidInput
            raise _runtime_error(e, self) from None


_SIMPLE_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Const,
)


def compile_template(source: str, *, where: str) -> CompiledTemplate:
    """Parse, check and compile one template part; raises InvalidInput with line and column."""
    if not isinstance(source, str):
        raise InvalidInput(f"{where}: a template must be a string", details={"where": where})
    if len(source) > MAX_SOURCE_CHARS:
        raise InvalidInput(
            f"{where}: template is {len(source):,} characters; the limit is {MAX_SOURCE_CHARS:,}",
            details={"where": where},
        )
    token = _last_token.set(None)
    try:
        tree = ENV.parse(source)
        _reject_private_names(tree, source, where)
        template = ENV.from_string(tree)
    except TemplateSyntaxError as e:
        raise _syntax_error(e, source, where) from None
    finally:
        _last_token.reset(token)
    names = frozenset(find_undeclared_variables(tree)) - set(ENV.globals)
    simple = all(isinstance(n, _SIMPLE_NODES) for n in tree.find_all(nodes.Node))
    parts = _plain_parts(tree)
    fast = None
    if parts is not None:
        fast = "".join(
            f"{{{text}}}" if is_var else text.replace("{", "{{").replace("}", "}}") for is_var, text in parts
        )
    return CompiledTemplate(
        where=where, source=source, template=template, names=names, simple=simple, parts=parts, fast=fast
    )


def _plain_parts(tree: nodes.Template) -> tuple[tuple[bool, str], ...] | None:
    """Text and bare ``{{ name }}`` outputs as a flat list, rendered by joining strings; None otherwise."""
    parts: list[tuple[bool, str]] = []
    for stmt in tree.body:
        if not isinstance(stmt, nodes.Output):
            return None
        for node in stmt.nodes:
            if isinstance(node, nodes.TemplateData):
                parts.append((False, node.data))
            elif isinstance(node, nodes.Name):
                parts.append((True, node.name))
            else:
                return None
    return tuple(parts)


def _line(source: str, line: int) -> str:
    lines = source.replace("\r\n", "\n").split("\n")
    return lines[line - 1] if 0 < line <= len(lines) else ""


def _column_of(source: str, line: int, needle: str) -> int:
    idx = _line(source, line).find(needle)
    return idx + 1 if idx >= 0 else 1


def _reject_private_names(tree: nodes.Template, source: str, where: str) -> None:
    for other in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        raise InvalidInput(
            f"{where} line {other.lineno}: templates cannot extend, include or import other templates",
            details={"where": where, "line": other.lineno},
        )
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value if isinstance(node.arg.value, str) else ""
        elif isinstance(node, nodes.Name):
            name = node.name
        else:
            continue
        if name.startswith("_"):
            line = node.lineno
            col = _column_of(source, line, name)
            raise InvalidInput(
                f"{where} line {line}, column {col}: access to {name!r} is not allowed "
                "(names starting with '_' reach Python internals)",
                details={"where": where, "line": line, "column": col, "name": name},
            )


def _syntax_error(e: TemplateSyntaxError, source: str, where: str) -> InvalidInput:
    line = e.lineno or 1
    at = re.search(r" at (\d+)$", e.message or "")
    pos = None if isinstance(e, TemplateAssertionError) else _last_token.get()  # stale after parsing
    quoted = re.search(r"'([^']+)'", e.message or "")
    if at is not None:  # the lexer names the offset
        offset = int(at.group(1))
        text = source.replace("\r\n", "\n")
        line = text.count("\n", 0, offset) + 1
        col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    elif pos is not None and pos[0] == line:
        col = pos[1]  # the token the parser stopped at, or the text after it that the lexer refused
        idx = _line(source, line).find(quoted.group(1), col - 1) if quoted is not None else -1
        col = idx + 1 if idx >= 0 else col
    else:
        col = _column_of(source, line, quoted.group(1)) if quoted else 1
    message = re.sub(r" at \d+$", "", e.message or "syntax error")
    return InvalidInput(
        f"{where} line {line}, column {col}: template syntax error: {message}",
        details={"where": where, "line": line, "column": col},
    )


def _template_line(tb: Any, template: Any) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            with contextlib.suppress(Exception):  # debug info missing: keep the last line we know
                line = template.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    return line


def _runtime_error(e: Exception, part: CompiledTemplate) -> InvalidInput:
    line = _template_line(e.__traceback__, part.template) or 1
    if isinstance(e, RenderLimitError):
        reason, what = "limit", f"render limit: {e}"
    elif isinstance(e, SecurityError):
        reason, what = "sandbox", f"blocked by the template sandbox: {e}"
    elif isinstance(e, UndefinedError):
        reason, what = "undefined", f"undefined value: {e.message}"
    elif isinstance(e, (RecursionError, MemoryError)):
        reason, what = "limit", "recursion is too deep" if isinstance(e, RecursionError) else "out of memory"
    else:
        reason, what = "error", f"{type(e).__name__}: {e}"
    return InvalidInput(
        f"{part.where} line {line}: {what}", details={"where": part.where, "line": line, "reason": reason}
    )
