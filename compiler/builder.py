"""Appends typed nodes to an IR function, asking the op registry for result types.

Used by the front end, by autodiff (VJP rules receive a builder) and by the IR parser.
A shape rule's `ShapeError` becomes a diagnostic that points at the op's source span
and at the operand at fault, with the shape each operand came with.
"""

from __future__ import annotations

import functools
from typing import Any

from ..dsl.diagnostics import Diagnostic, DiagnosticError, Label
from .ir import Function, Loc, Node, TensorType, Value
from .ops import registry
from .ops.registry import ShapeError


class Builder:
    """Writes nodes at the end of `function`, each located at `loc`.

    `b.emit("add", x, y)` and `b.add(x, y)` are the same; ops with one result return
    a `Value`, others a tuple of them.
    """

    def __init__(self, function: Function, loc: Loc):
        self.function = function
        self.loc = loc

    def at(self, loc: Loc) -> Builder:
        return Builder(self.function, loc)

    def into(self, function: Function) -> Builder:
        """A builder that writes into `function` (a region being built) at this location."""
        return Builder(function, self.loc)

    def emit(self, op_name: str, *operands: Value, **attrs: Any) -> Value | tuple[Value, ...]:
        node = self.make_node(op_name, operands, attrs)
        self.function.nodes.append(node)
        return node.results[0] if len(node.results) == 1 else node.results

    def make_node(self, op_name: str, operands, attrs: dict[str, Any]) -> Node:
        op = registry.get(op_name)
        bound = op.bind_attrs(attrs)
        try:
            types = op.result_types(bound, [v.type for v in operands])
        except ShapeError as error:
            raise DiagnosticError([shape_diagnostic(error, op_name, operands, self.loc)]) from None
        return Node(op_name, tuple(operands), bound, types, self.loc)

    def __getattr__(self, op_name: str):
        if op_name.startswith("_"):
            raise AttributeError(op_name)
        return functools.partial(self.emit, op_name)

    # Helpers shared by VJP rules and the front end; each is a few ops.

    def const(self, value: float | int | bool, dtype: str = "f32") -> Value:
        return self.emit("constant", value=value, dtype=dtype, shape=())

    def cast(self, x: Value, dtype: str) -> Value:
        return x if x.type.dtype == dtype else self.emit("convert", x, dtype=dtype)

    def broadcast_to(self, x: Value, shape: tuple) -> Value:
        shape = tuple(shape)
        if x.type.shape == shape:
            return x
        return self.emit("broadcast", x, shape=shape)

    def unbroadcast(self, g: Value, to: TensorType) -> Value:
        """Sums `g` over the axes that broadcasting added or stretched to reach `to`."""
        if g.type.shape == to.shape:
            return g
        lead = g.type.rank - to.rank
        axes = list(range(lead))
        for i, dim in enumerate(to.shape):
            if dim == 1 and g.type.shape[lead + i] != 1:
                axes.append(lead + i)
        summed = self.emit("sum", g, axes=tuple(axes), keepdims=False) if axes else g
        if summed.type.shape != to.shape:
            summed = self.emit("reshape", summed, shape=to.shape)
        return summed


def shape_diagnostic(error: ShapeError, op_name: str, operands, loc: Loc) -> Diagnostic:
    """The diagnostic for a failed shape rule: the op's span first, then where each
    operand involved was defined, with its type."""
    involved = range(len(operands)) if error.operand is None else [error.operand]
    secondary = []
    for i in involved:
        value = operands[i]
        span = value.loc.span
        if span is not None and span != loc.span:
            what = f"`{value.name}`" if value.name else "this"
            secondary.append(Label(span, f"{what} is `{value.type}`"))
    notes = ()
    if loc.gradient_of:
        notes = (f"while building the gradient of `{loc.gradient_of}`",)
    if loc.span is None:
        raise ShapeError(error.message, code=error.code, operand=error.operand)
    return Diagnostic(error.code, error.message, loc.span, label=error.label,
                      secondary=tuple(secondary), notes=notes, help=error.help)
