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
import re
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
from jinja2.visitor import NodeTransformer

from llmloop.errors import InvalidInput
from llmloop.services.prompts import limits

MAX_SOURCE_CHARS = 100_000
MAX_OUTPUT_CHARS = limits.MAX_VALUE_CHARS
MAX_ITERATIONS = limits.MAX_ITERATIONS
RenderLimitError = limits.RenderLimitError

_SAFE_TYPES = (str, int, float, bool, list, tuple, dict, type(None), LoopContext)
_SAFE_FILTERS = (
    *("abs", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first"),
    *("float", "groupby", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max"),
    *("min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "slice"),
    *("sort", "string", "striptags", "sum", "title", "tojson", "trim", "truncate", "unique", "upper"),
    *("wordcount", "wordwrap"),
)
# The sandbox's own filters, which the parser routes loops, ``~``, slices and repeated text through.
_ITER, _CONCAT, _SLICE, _EMIT = "llmloop_iter", "llmloop_concat", "llmloop_slice", "llmloop_emit"
_REPEATING = (nodes.For, nodes.Macro, nodes.CallBlock, nodes.FilterBlock, nodes.AssignBlock)

_last_token: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "llmloop_last_token", default=None
)


def _no_str_format(*_args: Any, **_kwargs: Any) -> str:
    raise SecurityError("str.format is not available in prompt templates; use {{ }} or the format filter")


class _BoundOperations(NodeTransformer):
    """Rewrite ``a ~ b`` and ``x[i:j]`` into the sandbox filters that pay for their result first."""

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(nodes.List(node.nodes), _CONCAT, [], [], None, None, lineno=node.lineno)

    def visit_Getitem(self, node: nodes.Getitem) -> nodes.Node:
        self.generic_visit(node)
        if not isinstance(node.arg, nodes.Slice):
            return node
        bounds = [
            b if b is not None else nodes.Const(None) for b in (node.arg.start, node.arg.stop, node.arg.step)
        ]
        return nodes.Filter(node.node, _SLICE, bounds, [], None, None, lineno=node.lineno)


class PromptEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox every prompt template is compiled in (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            cache_size=0,
            finalize=limits.finalize,
        )
        self.globals.clear()
        self.globals["range"] = limits.bounded_range
        self.filters = {name: limits.guard_filter(name, FILTERS[name]) for name in [*_SAFE_FILTERS, "format"]}
        self.filters.update(
            {_ITER: limits.bounded_iter, _CONCAT: limits.concat, _SLICE: limits.slice_of, _EMIT: limits.emit}
        )

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return (
            not attr.startswith("_")
            and isinstance(obj, _SAFE_TYPES)
            and super().is_safe_attribute(obj, attr, value)
        )

    def is_safe_callable(self, obj: Any) -> bool:
        if (
            obj is limits.bounded_range
            or obj is _no_str_format
            or isinstance(obj, (Macro, LoopContext, Undefined))
        ):
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
        limits.tick()  # macros can recurse without any loop: count calls too
        joined = limits.estimate_call(__self, __obj, args, kwargs)
        if joined is not None:
            return joined
        result = __context.call(__obj, *args, **kwargs)
        limits.charge_built(result, "a call result")
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        return _no_str_format if super().wrap_str_format(value) is not None else None

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        limits.check_binop(operator, left, right)
        return self.binop_table[operator](left, right)

    def _tokenize(
        self, source: str, name: str | None, filename: str | None = None, state: str | None = None
    ) -> TokenStream:
        """Tokens as usual, remembering where the last one started, so syntax errors get a column."""
        source = self.preprocess(source, name, filename)
        raw = self.lexer.tokeniter(source, name, filename, state)
        return TokenStream(self.lexer.wrap(_track_positions(raw, source), name, filename), name, filename)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Parse, then route loops, ``~``, slices and text that loops or macros repeat through the budget."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, _ITER, [], [], None, None, lineno=loop.lineno)
        for block in tree.find_all(_REPEATING):
            for output in block.find_all(nodes.Output):
                output.nodes = [
                    nodes.Filter(nodes.Const(n.data), _EMIT, [], [], None, None, lineno=n.lineno)
                    if isinstance(n, nodes.TemplateData)
                    else n
                    for n in output.nodes
                ]
        bounded = _BoundOperations().visit(tree)
        assert isinstance(bounded, nodes.Template)
        return bounded


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
            token = limits.current.set(limits.Budget())
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
                limits.current.reset(token)
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
