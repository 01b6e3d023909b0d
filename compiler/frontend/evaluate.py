"""The front end's evaluator: runs `.nn` bodies at compile time, staging tensors into IR.

Consumes the AST of one definition body and a `Trace` (the IR function being built);
numbers, lists and configuration are folded, tensor operations become IR nodes located
at their source span. Calls of fns, layers and `grad` are handled in `calls.py`.
"""

from __future__ import annotations

import operator
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...dsl import ast
from ...dsl.diagnostics import Diagnostic, DiagnosticError, Label
from ..builder import Builder
from ..ir import DTYPES, FLOAT_DTYPES, Function, Loc, TensorType, Value
from .values import DimSym, Dtype, kind_name

BINARY_OPS = {"+": "add", "-": "sub", "*": "mul", "/": "div", "@": "matmul", "**": "pow"}
COMPARE_OPS = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
MAX_CONSTANT_BITS = 1024  # beyond any dtype, and beyond a float64
FOLD_BINARY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "**": operator.pow,
               "%": operator.mod, "==": operator.eq, "!=": operator.ne, "<": operator.lt,
               "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def fail(code: str, message: str, span, label: str = "", *, help: str | None = None,
         secondary=(), notes=()) -> DiagnosticError:
    """A diagnostic wrapped for raising: `raise fail("E0101", ...)`."""
    return DiagnosticError([Diagnostic(code, message, span, label=label, help=help,
                                       secondary=tuple(secondary), notes=tuple(notes))])


@dataclass
class ParamSpec:
    """A `param` met while tracing: its path (`simple_dense/W`), type, initializer."""

    path: str
    type: TensorType
    init: Any
    loc: Loc
    value: Value


@dataclass
class LayerRecord:
    """One layer call, for `--emit summary`."""

    name: str
    layer: str
    output: str
    params: int
    depth: int


@dataclass
class Trace:
    """The IR function under construction and what tracing it collects."""

    function: Function
    params: dict[str, ParamSpec] | None = None
    prefix: list[str] = field(default_factory=list)
    layer_counts: dict[str, int] = field(default_factory=dict)
    layers: list[LayerRecord] = field(default_factory=list)
    active: list[str] = field(default_factory=list)

    def builder(self, span) -> Builder:
        return Builder(self.function, Loc.of(span))


class Observer:
    """What an editor learns from one compilation: the front end calls these as it
    evaluates (the language server records them for hover). Every method is a no-op
    here; with no observer (`None`, the default) compilation does none of this work."""

    def on_value(self, node, value) -> None:
        """`node` (an AST expression) evaluated to `value` (a tensor or a compile-time
        value); called again each time the node is evaluated (e.g. a layer used twice)."""

    def on_binding(self, name: str, span, value) -> None:
        """`name`, written at `span`, was bound to `value` (an assignment, a parameter of
        a fn, layer or model, a layer's configuration)."""

    def on_param(self, stmt, spec) -> None:
        """The `param` statement `stmt` declared `spec` (a `ParamSpec`)."""

    def on_layer(self, span, instance, record) -> None:
        """A layer call at `span` of the configured `instance` gave `record`."""


class Scope:
    """Names visible in a body: its own bindings, then the globals."""

    def __init__(self, globals_: dict[str, Any], values: dict[str, Any] | None = None):
        self.globals = globals_
        self.values = dict(values or {})

    def lookup(self, name: str, span) -> Any:
        if name in self.values:
            return self.values[name]
        if name in self.globals:
            return self.globals[name]
        from ...dsl.diagnostics import suggest

        hint = suggest(name, list(self.values) + list(self.globals))
        raise fail("E0101", f"cannot find `{name}` in this scope", span, "not found",
                   help=hint)

    def bind(self, name: str, value: Any, span) -> None:
        if name in self.values:
            raise fail("E0103", f"`{name}` is already bound in this scope", span,
                       "bound again here", help="bindings are single assignment: pick a new name")
        self.values[name] = value

    def child(self) -> Scope:
        return Scope(self.globals, self.values)


class Evaluator:
    """Evaluates expressions and statements; `calls` (a `Calls`) does every call."""

    def __init__(self, trace: Trace, calls):
        self.trace = trace
        self.calls = calls
        self.observer: Observer | None = getattr(calls, "observer", None)

    # Statements

    def run_body(self, body, scope: Scope) -> tuple[Any, ...] | None:
        """Runs `body` to its `return`; returns the returned values."""
        for stmt in body:
            if isinstance(stmt, ast.Return):
                return tuple(self.expr(v, scope) for v in stmt.values)
            if isinstance(stmt, ast.Assign):
                self.assign(stmt, scope)
            elif isinstance(stmt, ast.ParamDecl):
                self.bind(scope, stmt.name, self.calls.declare_param(self, stmt, scope),
                          stmt.name_span)
        return None

    def assign(self, stmt: ast.Assign, scope: Scope) -> None:
        value = self.expr(stmt.value, scope)
        if len(stmt.targets) == 1:
            if isinstance(value, Value) and value.name is None and value.node is not None:
                value.name = stmt.targets[0]
            self.bind(scope, stmt.targets[0], value, stmt.target_spans[0])
            return
        if not isinstance(value, tuple) or len(value) != len(stmt.targets):
            count = len(value) if isinstance(value, tuple) else 1
            raise fail("E0301", f"cannot unpack {count} value(s) into {len(stmt.targets)} names",
                       stmt.value.span, f"gives {count} value(s)")
        for name, span, item in zip(stmt.targets, stmt.target_spans, value):
            self.bind(scope, name, item, span)

    def bind(self, scope: Scope, name: str, value: Any, span) -> None:
        scope.bind(name, value, span)
        if self.observer is not None:
            self.observer.on_binding(name, span, value)

    # Expressions

    def expr(self, node, scope: Scope) -> Any:
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is None:
            raise fail("E0601", f"`{type(node).__name__}` expressions are not supported here",
                       node.span)
        value = method(node, scope)
        if self.observer is not None:
            self.observer.on_value(node, value)
        return value

    def expr_Name(self, node: ast.Name, scope: Scope) -> Any:
        return scope.lookup(node.id, node.span)

    def expr_Number(self, node: ast.Number, scope: Scope) -> Any:
        return node.value

    def expr_String(self, node: ast.String, scope: Scope) -> Any:
        return node.value

    def expr_Bool(self, node: ast.Bool, scope: Scope) -> Any:
        return node.value

    def expr_ListExpr(self, node: ast.ListExpr, scope: Scope) -> Any:
        return [self.expr(item, scope) for item in node.items]

    def expr_UnaryOp(self, node: ast.UnaryOp, scope: Scope) -> Any:
        value = self.expr(node.operand, scope)
        if node.op == "+":
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value
        return self.trace.builder(node.span).neg(self.tensor(value, node.operand.span))

    def expr_BinOp(self, node: ast.BinOp, scope: Scope) -> Any:
        left = self.expr(node.left, scope)
        right = self.expr(node.right, scope)
        return self.binary(node.op, left, right, node)

    def expr_Compare(self, node: ast.Compare, scope: Scope) -> Any:
        left = self.expr(node.left, scope)
        right = self.expr(node.right, scope)
        return self.binary(node.op, left, right, node)

    def expr_Call(self, node: ast.Call, scope: Scope) -> Any:
        func = self.expr(node.func, scope)
        args = [(self.expr(a, scope), a.span) for a in node.args]
        kwargs = {}
        for kw in node.kwargs:
            if kw.name in kwargs:
                raise fail("E0302", f"keyword argument `{kw.name}` given twice", kw.name_span)
            kwargs[kw.name] = (self.expr(kw.value, scope), kw.value.span)
        return self.calls.call(self, func, args, kwargs, node.span)

    def expr_Pipe(self, node: ast.Pipe, scope: Scope) -> Any:
        """`x |> f(a)` calls `f(x, a)` when `f` is a function, and `f(a)(x)` when `f(a)`
        makes a layer; `x |> g` calls `g(x)`."""
        left = (self.expr(node.left, scope), node.left.span)
        right = node.right
        if isinstance(right, ast.Call):
            func = self.expr(right.func, scope)
            if self.calls.takes_piped_argument(func):
                args = [left] + [(self.expr(a, scope), a.span) for a in right.args]
                kwargs = {kw.name: (self.expr(kw.value, scope), kw.value.span)
                          for kw in right.kwargs}
                return self.calls.call(self, func, args, kwargs, node.span)
        func = self.expr(right, scope)
        return self.calls.call(self, func, [left], {}, node.span)

    def expr_Attribute(self, node: ast.Attribute, scope: Scope) -> Any:
        value = self.expr(node.value, scope)
        if isinstance(value, Value):
            if node.name == "shape":
                return [d if isinstance(d, int) else DimSym(d) for d in value.type.shape]
            if node.name == "dtype":
                return Dtype(value.type.dtype)
            if node.name == "rank":
                return value.type.rank
        raise fail("E0303", f"{kind_name(value)} has no attribute `{node.name}`", node.span,
                   help="tensors have `.shape`, `.dtype` and `.rank`")

    def expr_Index(self, node: ast.Index, scope: Scope) -> Any:
        value = self.expr(node.value, scope)
        if isinstance(value, (list, tuple)):
            if len(node.indices) != 1 or isinstance(node.indices[0], ast.Slice):
                raise fail("E0304", "a list takes one integer index", node.span)
            index = self.expr(node.indices[0], scope)
            if not isinstance(index, int) or not -len(value) <= index < len(value):
                raise fail("E0304", f"index `{index}` is out of range for a list of "
                           f"{len(value)}", node.indices[0].span)
            return value[index]
        from .indexing import index_tensor

        return index_tensor(self, self.tensor(value, node.value.span), node, scope)

    # Helpers

    def tensor(self, value: Any, span, dtype: str = "f32") -> Value:
        """`value` as a tensor: numbers become scalar constants of `dtype`."""
        if isinstance(value, Value):
            return value
        if isinstance(value, bool):
            return self.trace.builder(span).const(value, "bool")
        if isinstance(value, (int, float)):
            check_representable(value, dtype, span)
            return self.trace.builder(span).const(value, dtype)
        raise fail("E0303", f"expected a tensor, found {kind_name(value)}", span,
                   "not a tensor")

    def binary(self, op: str, left: Any, right: Any, node) -> Any:
        if _is_number(left) and _is_number(right):
            return self.fold(op, left, right, node)
        if isinstance(left, DimSym) or isinstance(right, DimSym):
            raise fail("E0601", f"arithmetic on the symbolic dim "
                       f"`{left if isinstance(left, DimSym) else right}` is not supported yet",
                       node.span, help="symbolic dims can be passed through, e.g. "
                       "`reshape(x, [B, -1])`")
        like = left if isinstance(left, Value) else right
        if not isinstance(like, Value):
            raise fail("E0303", f"`{op}` needs numbers or tensors, found {kind_name(left)} and "
                       f"{kind_name(right)}", node.op_span)
        lhs = self.tensor(left, node.left.span, literal_dtype(left, like.type.dtype))
        rhs = self.tensor(right, node.right.span, literal_dtype(right, like.type.dtype))
        op_name = BINARY_OPS.get(op) or COMPARE_OPS.get(op)
        if op_name is None:
            raise fail("E0601", f"`{op}` on tensors is not supported yet", node.op_span)
        return self.trace.builder(node.span).emit(op_name, lhs, rhs)

    def fold(self, op: str, left, right, node) -> Any:
        if op == "@":
            raise fail("E0303", "`@` needs tensors, found numbers", node.op_span)
        if op in ("/", "%") and right == 0:
            what = "division" if op == "/" else "modulo"
            raise fail("E0304", f"{what} by zero in a constant expression", node.span)
        # Integers are exact and unbounded in Python: `10 ** 10 ** 10` would never finish.
        if (op == "**" and isinstance(left, int) and isinstance(right, int)
                and abs(left) > 1 and right > 0
                and (abs(left).bit_length() - 1) * right > MAX_CONSTANT_BITS):
            raise fail("E0304", "this constant expression is too large", node.span,
                       help=f"integer constants are limited to {MAX_CONSTANT_BITS} bits")
        try:
            if op == "/":
                both_int = isinstance(left, int) and isinstance(right, int)
                result = left // right if both_int and left % right == 0 else left / right
            else:
                result = FOLD_BINARY[op](left, right)
        except (OverflowError, ZeroDivisionError, ValueError) as error:
            raise fail("E0304", f"cannot evaluate this constant expression: {error}",
                       node.span) from None
        if isinstance(result, complex):
            raise fail("E0304", "this constant expression has no real value", node.span,
                       help="a negative number to a fractional power is complex")
        if isinstance(result, int) and result.bit_length() > MAX_CONSTANT_BITS:
            raise fail("E0304", "this constant expression is too large", node.span,
                       help=f"integer constants are limited to {MAX_CONSTANT_BITS} bits")
        return result


def literal_dtype(value, tensor_dtype: str) -> str:
    """A number literal takes the other operand's dtype (weak typing, as in JAX), except
    a fraction beside an integer tensor: it stays `f32`, so the op reports the mismatch
    instead of truncating."""
    if isinstance(value, float) and tensor_dtype not in FLOAT_DTYPES and not value.is_integer():
        return "f32"
    return tensor_dtype


def check_representable(value: int | float, dtype: str, span) -> None:
    """E0304 unless the number fits `dtype`: an integer dtype's range (`1e30` does not
    fit `i32`), or for a float dtype a float64, which then rounds or overflows to infinity
    as in NumPy."""
    if dtype in FLOAT_DTYPES:
        fits = abs(value) <= sys.float_info.max or isinstance(value, float)
    elif dtype in DTYPES and dtype != "bool":
        info = np.iinfo(DTYPES[dtype])
        fits = info.min <= value <= info.max
    else:
        fits = True
    if not fits:
        raise fail("E0304", f"the constant does not fit in `{dtype}`", span, f"as `{dtype}`",
                   help="use a smaller constant or a wider dtype")


def _is_number(value) -> bool:
    return isinstance(value, (int, float))


def check_dtype_name(name: str, span) -> str:
    if name not in DTYPES:
        from ...dsl.diagnostics import suggest

        raise fail("E0201", f"unknown dtype `{name}`", span, "not a dtype",
                   help=suggest(name, list(DTYPES)) or f"dtypes are {', '.join(DTYPES)}")
    return name


def secondary_label(value: Value) -> list[Label]:
    span = value.loc.span
    if span is None:
        return []
    what = f"`{value.name}`" if value.name else "this"
    return [Label(span, f"{what} is `{value.type}`")]
