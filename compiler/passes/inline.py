"""Copying IR: inline one function's body into another, or clone a whole function.

The front end inlines `fn` calls and layer bodies; autodiff and the rewriting passes
copy functions through the same value map. Copies keep every node's location; types
are re-inferred by the builder where an operand's type changed.
"""

from __future__ import annotations

from ..builder import Builder
from ..ir import Function, Node, Value
from ..ops import registry


def copy_node(function: Function, node: Node, operands) -> Node:
    """Appends to `function` a node like `node` (same op, attributes and location) on
    `operands`, and returns it. Types are re-inferred only when an operand's type
    changed: otherwise the shape rule would give the node's own result types again."""
    operands = tuple(operands)
    if all(new.type == old.type for new, old in zip(operands, node.operands)):
        copy = Node(node.op, operands, node.attrs, tuple(r.type for r in node.results),
                    node.loc)
    else:
        copy = Builder(function, node.loc).make_node(node.op, operands, node.attrs)
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
        new.add_arg(arg.type, arg.name, arg.loc, arg.role)
    return new


class FunctionCopy:
    """`source` being rebuilt node by node into `function`; `values` maps each source
    value already replaced to its replacement. Passes choose, per node, to `copy` it or
    to `bind` its results to other values.

    With `share` (what rewriting passes use, since they discard `source`), the new
    function keeps `source`'s arguments and every node whose operands were not
    replaced, so a pass that changes little also copies little. Without it the copy
    shares nothing with `source`."""

    def __init__(self, source: Function, name: str | None = None, share: bool = True):
        self.source = source
        self.share = share
        if share:
            self.function = Function(name or source.name, args=list(source.args),
                                     loc=source.loc)
            self.values: dict[int, Value] = {}
        else:
            self.function = empty_like(source, name)
            self.values = {id(old): new for old, new in zip(source.args, self.function.args)}

    def operands(self, node: Node) -> list[Value]:
        return [self.values.get(id(v), v) for v in node.operands]

    def unchanged(self, node: Node, operands: list[Value]) -> bool:
        return self.share and all(new is old for new, old in zip(operands, node.operands))

    def copy(self, node: Node) -> Node:
        operands = self.operands(node)
        if self.unchanged(node, operands):
            self.function.nodes.append(node)
            return node
        copy = copy_node(self.function, node, operands)
        self.bind(node, copy.results)
        return copy

    def bind(self, node: Node, values) -> None:
        self.values.update((id(old), new) for old, new in zip(node.results, values))

    def finish(self) -> Function:
        self.function.results = [self.values.get(id(r), r) for r in self.source.results]
        self.function.result_names = list(self.source.result_names)
        self.function.result_roles = list(self.source.result_roles)
        return self.function


def clone_function(fn: Function, name: str | None = None) -> Function:
    """A deep copy of `fn`, optionally renamed; it shares no values or nodes with `fn`."""
    copy = FunctionCopy(fn, name, share=False)
    for node in fn.nodes:
        copy.copy(node)
    return copy.finish()


def map_regions(fn: Function, transform) -> Function:
    """`fn` with `transform` (a pass) applied to every region of its nodes, innermost
    first; a node whose region changed is rebuilt on the new one (a pass keeps a
    function's signature, so the node keeps its result types)."""
    copy = FunctionCopy(fn)
    changed = False
    for node in fn.nodes:
        bodies = registry.regions(node.attrs)
        new = {name: transform(map_regions(body, transform)) for name, body in bodies.items()}
        if all(new[name] is body for name, body in bodies.items()):
            copy.copy(node)
            continue
        changed = True
        rebuilt = Node(node.op, copy.operands(node), {**node.attrs, **new},
                       tuple(r.type for r in node.results), node.loc)
        copy.function.nodes.append(rebuilt)
        copy.bind(node, rebuilt.results)
    return copy.finish() if changed else fn
