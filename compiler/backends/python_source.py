"""Python source from IR, shared by the TensorFlow and PyTorch emitters: the one namer
that turns any IR name into a safe identifier, the context each op's `tf`/`torch` rule
gets, and the generic loop that writes a function one statement per node.

No text from a `.nn` file reaches the output unescaped: identifiers go through
`Namer`, literals through `literal`, and comments through `comment_text`.
"""

from __future__ import annotations

import builtins
import keyword
import math
import re
from dataclasses import dataclass, field
from typing import Callable

from .. import dims
from ..ir import Function, Loc, TensorType, Value
from ..ops import registry


class EmitError(Exception):
    """An IR function that cannot be emitted: an op without a rule for the target."""


# Helpers that rules define (`SourceCtx.helper`) are named `_dslc_...`; the namer never
# gives out a name that starts with `_`, so they cannot clash with the program's names.
HELPER_PREFIX = "_dslc_"


class Namer:
    """Legal, distinct Python identifiers for arbitrary names: ASCII letters, digits and
    `_` only, never a keyword, a builtin or a name the emitted module reserves (its
    imports and helpers); a clash gets a numeric suffix."""

    def __init__(self, reserved=()):
        self.taken: set[str] = set(reserved) | set(dir(builtins)) | set(keyword.kwlist)
        self.taken |= set(keyword.softkwlist)

    def fresh(self, hint: str | None) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", hint or "") or "v"
        base = re.sub(r"_+", "_", base).strip("_") or "v"
        if base[0].isdigit():
            base = "v" + base
        base = base[:40]
        name, count = base, 1
        while name in self.taken or name.startswith("__"):
            name, count = f"{base}_{count}", count + 1
        self.taken.add(name)
        return name


def literal(value) -> str:
    """Python source for a number, bool, None, string or tuple of them; floats keep
    every bit (`repr`), and non-finite ones are spelled `float("inf")`."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f'float("{value}")'
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (tuple, list)):
        items = ", ".join(literal(v) for v in value)
        return f"({items},)" if len(value) == 1 else f"({items})"
    raise EmitError(f"no Python literal for {type(value).__name__}")


def comment_text(text: str) -> str:
    """`text` safe inside a `#` comment: printable ASCII kept, anything else (a line
    break, a control or non-ASCII character) written as an escape."""
    return "".join(c if " " <= c <= "~" else c.encode("unicode_escape").decode("ascii")
                   for c in text)


@dataclass
class Body:
    """The statements of one function being written, its namer, and the module-level
    helpers (name -> source of a `def`) its rules asked for."""

    namer: Namer
    helpers: dict[str, str]
    lines: list[str] = field(default_factory=list)
    target: Target | None = None

    def emit(self, statement: str) -> None:
        self.lines.append(statement)


class SourceCtx:
    """What a `tf` or `torch` rule may know and do: the IR types of its node, the
    source of a shape (symbols are variables bound at the function's start), the
    target's dtype spelling, fresh names and a statement sink for rules that need more
    than one expression; `region(body)` defines a region as a nested function. A
    target subclasses it with its `DTYPES`."""

    DTYPES: dict[str, str] = {}

    def __init__(self, operand_types: tuple[TensorType, ...],
                 result_types: tuple[TensorType, ...], symbols: dict[str, str], body: Body):
        self.operand_types = operand_types
        self.result_types = result_types
        self._symbols = symbols
        self._body = body

    def dim(self, dim) -> str:
        """Source for one dim; an expression dim in parentheses, computed (with `//`)
        from the symbols' variables."""
        if not isinstance(dim, dims.DimExpr):
            return str(dim) if dims.is_concrete(dim) else self._symbols[dim]
        return f"({dims.format_dim(dim, self._symbols.__getitem__, divide='//')})"

    def shape(self, ir_shape) -> str:
        """Source for `ir_shape` as a tuple, its symbols read from the arguments."""
        sizes = [self.dim(d) for d in ir_shape]
        return f"({sizes[0]},)" if len(sizes) == 1 else f"({', '.join(sizes)})"

    def result_shape(self, index: int = 0) -> str:
        return self.shape(self.result_types[index].shape)

    def dtype(self, name: str) -> str:
        return self.DTYPES[name]

    def result_dtype(self, index: int = 0) -> str:
        return self.dtype(self.result_types[index].dtype)

    literal = staticmethod(literal)

    def fresh(self, hint: str = "t") -> str:
        return self._body.namer.fresh(hint)

    def emit(self, statement: str) -> None:
        self._body.emit(statement)

    def region(self, function: Function, hint: str = "body") -> str:
        """The name of a nested `def` computing `function` (a region), written here as
        statements; it reads the dims' variables of the function it is nested in."""
        name = self.fresh(hint)
        for line in function_lines(function, self._body, self._symbols, name):
            self.emit(line)
        return name

    def helper(self, name: str, source: str) -> str:
        """`name`, a module-level function whose `def` is `source`, written once into
        the emitted module (for a rule that is a small algorithm, not one call)."""
        known = self._body.helpers.setdefault(name, source)
        if known != source:
            raise EmitError(f"two rules define the helper `{name}` differently")
        return name


def argument_names(values, namer: Namer) -> list[str]:
    """Parameter names for a method, distinct from every module-level name."""
    local = Namer(namer.taken | {"self"})
    return [local.fresh(v.name) for v in values]


def data_args(function) -> list:
    """The arguments a wrapper's method takes from its caller: inputs, then targets
    (the wrapper holds the rest)."""
    return function.args_with("input") + function.args_with("target")


@dataclass
class Target:
    """One Python framework: its rule name in the registry, its context class, the
    names its emitted code imports (reserved from user names), and how a symbolic dim
    is read from an argument (`dim_of(arg, axis)` -> source). For whole modules
    (`python_module.py`): its `title`, `imports`, the module-level names it defines,
    how a function is compiled (`decorate(emitted, source)`) and the wrapper class
    (`wrapper(module, names, namer)`)."""

    name: str
    ctx: type[SourceCtx]
    reserved: tuple[str, ...]
    dim_of: Callable[[str, int], str]
    title: str = ""
    imports: str = ""
    module_names: tuple[str, ...] = ()
    decorate: Callable[..., str] | None = None
    wrapper: Callable[..., str] | None = None


def missing_rules(function: Function, target: str) -> list[str]:
    """The ops of `function` and of its regions that have no rule for `target`."""
    missing = set()
    for node in function.nodes:
        if registry.get(node.op).rule(target) is None:
            missing.add(node.op)
        for body in registry.regions(node.attrs).values():
            missing.update(missing_rules(body, target))
    return sorted(missing)


def function_source(function: Function, target: Target, name: str | None = None,
                    namer: Namer | None = None, helpers: dict[str, str] | None = None) -> str:
    """`def NAME(args...): ...` computing `function`, one statement per node, grouped
    under a comment naming the `.nn` line each group came from; `name`, when given, is
    an identifier the caller took from `namer`. Helpers its rules
    need are added to `helpers` (name -> source), which the module writes once;
    helper names are reserved in `namer` by whoever chose them (`HELPER_PREFIX`)."""
    missing = missing_rules(function, target.name)
    if missing:
        raise EmitError(f"no {target.name} rule for op {', '.join(f'`{m}`' for m in missing)} "
                        f"in `{function.name}`")
    namer = namer or Namer(target.reserved)
    body = Body(Namer(namer.taken), helpers if helpers is not None else {}, target=target)
    fn_name = name or namer.fresh(function.name)
    return "\n".join(function_lines(function, body, {}, fn_name))


def function_lines(function: Function, body: Body, symbols: dict[str, str],
                   fn_name: str) -> list[str]:
    """The lines of `def fn_name(...)` computing `function`, written with `body`'s
    namer, helpers and target into a statement list of its own. `symbols` are the dims'
    variables already bound (a region reads those of the function it is nested in)."""
    body = Body(body.namer, body.helpers, target=body.target)
    target = body.target
    symbols = dict(symbols)
    names: dict[Value, str] = {}
    for arg in function.args:
        names[arg] = body.namer.fresh(arg.name or "arg")
    for arg in function.args:
        for axis, dim in enumerate(arg.type.shape):
            if isinstance(dim, str) and dim not in symbols:
                symbols[dim] = body.namer.fresh(dim)
                body.emit(f"{symbols[dim]} = {target.dim_of(names[arg], axis)}")
    last: Loc | None = None
    for node in function.nodes:
        if node.loc.span is not None and (last is None or (node.loc.file, node.loc.line)
                                          != (last.file, last.line)):
            body.emit(f"# {location_comment(node.loc)}")
            last = node.loc
        ctx = target.ctx(tuple(v.type for v in node.operands),
                         tuple(v.type for v in node.results), symbols, body)
        expression = registry.get(node.op).rules[target.name](
            ctx, *[names[v] for v in node.operands], **node.attrs)
        outs = [body.namer.fresh(v.name or node.op) for v in node.results]
        rhs = expression if isinstance(expression, str) else ", ".join(expression)
        body.emit(f"{', '.join(outs)} = {rhs}")
        names.update(zip(node.results, outs))
    results = [names[v] for v in function.results]
    body.emit(f"return ({', '.join(results)}{',' if len(results) == 1 else ''})")
    params = ", ".join(names[a] for a in function.args)
    return [f"def {fn_name}({params}):"] + [f"    {line}" for line in body.lines]


def location_comment(loc: Loc) -> str:
    """`file:line` and the `.nn` line itself, escaped for a comment."""
    text = ""
    span = loc.span
    if span is not None:
        text = span.source.line_text(loc.line).strip()
    where = comment_text(f"{loc.file}:{loc.line}")
    if loc.gradient_of:
        where += f" (gradient of `{comment_text(loc.gradient_of)}`)"
    return f"{where}: {comment_text(text)}" if text else where
