"""The front end's evaluator: runs `.nn` bodies at compile time, staging tensors into IR.

Consumes the AST of one definition body and a `Trace` (the IR function being built);
numbers, lists and configuration are folded, tensor operations become IR nodes located
at their source span. Calls go to the shared `Calls` (`calls.py`); a `param` statement
to `layers.declare_param`.
"""

from __future__ import annotations

import operator
from typing import Any

from ...dsl import ast
from ...dsl.diagnostics import suggest
from .. import dims
from ..ir import Value
from .errors import fail
from .indexing import index_tensor
from .layers import declare_variable, update_state
from .op_builtins import operators
from .trace import Observer, Scope, Trace
from .types import check_representable, literal_dtype
from .values import TRAINING, DimSym, Dtype, Namespace, kind_name

MAX_CONSTANT_BITS = 1024  # beyond any dtype, and beyond a float64
FOLD_BINARY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "**": operator.pow,
               "%": operator.mod, "==": operator.eq, "!=": operator.ne, "<": operator.lt,
               "<=": operator.le, ">": operator.gt, ">=": operator.ge}


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
            elif isinstance(stmt, (ast.ParamDecl, ast.StateDecl)):
                self.bind(scope, stmt.name, declare_variable(self, stmt, scope), stmt.name_span)
            elif isinstance(stmt, ast.Update):
                update_state(self, stmt, scope)
            elif isinstance(stmt, ast.IfStmt):
                chosen = stmt.body if self.condition(stmt.condition, scope) else stmt.orelse
                returned = self.run_body(chosen, scope)
                if returned is not None:
                    return returned
        return None

    def assign(self, stmt: ast.Assign, scope: Scope) -> None:
        value = self.expr(stmt.value, scope)
        if len(stmt.targets) == 1:
            if isinstance(value, Value) and value.name is None and value.node is not None:
                value.name = stmt.targets[0]
            self.bind(scope, stmt.targets[0], value, stmt.target_spans[0])
            return
        # A list unpacks like the tuple a fn returns (`first, second = inputs`).
        if not isinstance(value, (tuple, list)) or len(value) != len(stmt.targets):
            count = len(value) if isinstance(value, (tuple, list)) else 1
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
        value = scope.lookup(node.id, node.span)
        if value is TRAINING:
            self.trace.mode_read = True
            return self.trace.training
        return value

    def expr_IfExpr(self, node: ast.IfExpr, scope: Scope) -> Any:
        return self.expr(node.then if self.condition(node.condition, scope)
                         else node.otherwise, scope)

    def condition(self, node, scope: Scope) -> bool:
        """The condition of an `if`: a bool known at compile time."""
        condition = self.expr(node, scope)
        if not isinstance(condition, bool):
            raise fail("E0304", f"the condition of `if` must be a bool known at compile time, "
                       f"found {kind_name(condition)}", node.span, "not a bool",
                       help="conditions are `training` or a layer's configuration; for a "
                       "choice per element use `where(condition, a, b)`")
        return condition

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
        return self.trace.builder(node.span).emit(operators()[("-", 1)],
                                                  self.tensor(value, node.operand.span))

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
        if isinstance(value, Namespace):
            if node.name in value.members:
                return value.members[node.name]
            raise fail("E0101", f"`{value.name}` has no member `{node.name}`", node.span,
                       help=suggest(node.name, list(value.members))
                       or f"its members are {', '.join(value.members)}")
        if isinstance(value, Value):
            if node.name == "shape":
                return [DimSym.wrap(d) for d in value.type.shape]
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
        if op in ("==", "!=") and (left is None or right is None):
            # `x == none` asks at compile time whether an option was left unset, whatever
            # `x` is (a tensor, a number): the layer's configuration chooses a branch.
            return (left is None and right is None) == (op == "==")
        if op in ("==", "!=") and isinstance(left, str) and isinstance(right, str):
            return (left == right) == (op == "==")  # a string option: `mode == "sum"`
        if _is_number(left) and _is_number(right):
            return self.fold(op, left, right, node)
        if op == "+" and isinstance(left, list) and isinstance(right, list):
            return left + right  # compile-time lists join: `[shape(x)[0]] + target_shape`
        if isinstance(left, DimSym) or isinstance(right, DimSym):
            return self.dim_arithmetic(op, left, right, node)
        like = left if isinstance(left, Value) else right
        if not isinstance(like, Value):
            raise fail("E0303", f"`{op}` needs numbers or tensors, found {kind_name(left)} and "
                       f"{kind_name(right)}", node.op_span)
        lhs = self.tensor(left, node.left.span, literal_dtype(left, like.type.dtype))
        rhs = self.tensor(right, node.right.span, literal_dtype(right, like.type.dtype))
        op_name = operators().get((op, 2))
        if op_name is None:
            raise fail("E0601", f"`{op}` on tensors is not supported yet", node.op_span)
        return self.trace.builder(node.span).emit(op_name, lhs, rhs)

    def dim_arithmetic(self, op: str, left, right, node) -> Any:
        """`+ - * / %` on symbolic dims and ints make a dim (`/` rounds down, as in
        types), so `reshape(x, [B, H * W])` can name sizes computed from others."""
        operands = [v.name if isinstance(v, DimSym) else v for v in (left, right)]
        if op not in ("+", "-", "*", "/", "%") or not all(map(dims.is_dim, operands)):
            raise fail("E0303", f"`{op}` needs dims and integers here, found "
                       f"{kind_name(left)} and {kind_name(right)}", node.op_span,
                       help="dims take `+`, `-`, `*`, `/` (rounding down) and `%`")
        try:
            return DimSym.wrap(dims.OPERATORS[op](*operands))
        except dims.DimError as error:
            raise fail("E0304", str(error), node.span) from None

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


def _is_number(value) -> bool:
    return isinstance(value, (int, float))
