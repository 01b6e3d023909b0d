"""Copying IR: inline one function's body into another, or clone a whole function.

The front end inlines `fn` calls and layer bodies; autodiff and the rewriting passes
copy functions through the same value map. Copies keep every node's location, and
types are re-inferred by the builder on the way.
"""

from __future__ import annotations

from ..builder import Builder
from ..ir import Function, Node, Value


def copy_node(function: Function, node: Node, operands) -> Node:
    """Appends to `function` a node like `node` (same op, attributes and location) on
    `operands`, and returns it."""
    copy = Builder(function, node.loc).make_node(node.op, tuple(operands), node.attrs)
    function.nodes.append(copy)
    return copy


def inline(callee: Function, b: Builder, args: list[Value]) -> list[Value]:
    """Appends the body of `callee`, applied to `args`, to `b.function`; returns the
    values of `callee`'s results there.

    1. Check that `args` match `callee`'s argument types.
    2. Map each argument of `callee` to the given value.
    3. Copy each node in order, on the mapped operands, and map its results.
    4. Return the mapped results.
    """
    if len(args) != len(callee.args):
        raise ValueError(f"`@{callee.name}` takes {len(callee.args)} arguments, "
                         f"got {len(args)}")
    for param, arg in zip(callee.args, args):
        if param.type != arg.type:
            raise ValueError(f"`@{callee.name}` argument `{param.name}` is `{param.type}`, "
                             f"got `{arg.type}`")
    values = {id(param): arg for param, arg in zip(callee.args, args)}
    for node in callee.nodes:
        copy = copy_node(b.function, node, [values[id(v)] for v in node.operands])
        values.update((id(old), new) for old, new in zip(node.results, copy.results))
    return [values[id(r)] for r in callee.results]


def empty_like(fn: Function, name: str | None = None) -> Function:
    """A function with `fn`'s signature (fresh argument values) and no nodes yet."""
    new = Function(name or fn.name, loc=fn.loc)
    for arg in fn.args:
        new.add_arg(arg.type, arg.name, arg.loc)
    return new


class FunctionCopy:
    """`source` being rebuilt node by node into `function`; `values` maps each source
    value already handled to its replacement. Passes choose, per node, to `copy` it or
    to `bind` its results to other values."""

    def __init__(self, source: Function, name: str | None = None):
        self.source = source
        self.function = empty_like(source, name)
        self.values = {id(old): new for old, new in zip(source.args, self.function.args)}

    def operands(self, node: Node) -> list[Value]:
        return [self.values[id(v)] for v in node.operands]

    def copy(self, node: Node) -> Node:
        copy = copy_node(self.function, node, self.operands(node))
        self.bind(node, copy.results)
        return copy

    def bind(self, node: Node, values) -> None:
        self.values.update((id(old), new) for old, new in zip(node.results, values))

    def finish(self) -> Function:
        self.function.results = [self.values[id(r)] for r in self.source.results]
        self.function.result_names = list(self.source.result_names)
        return self.function


def clone_function(fn: Function, name: str | None = None) -> Function:
    """A deep copy of `fn`, optionally renamed; it shares no values or nodes with `fn`."""
    copy = FunctionCopy(fn, name)
    for node in fn.nodes:
        copy.copy(node)
    return copy.finish()
