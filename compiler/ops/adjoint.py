"""The reverse walk over a straight-line IR function: each node's operand cotangents
from its op's `vjp` or `transpose` rule, summed per value.

The autodiff pass (`passes/autodiff.py`) runs it on whole functions; an op that holds
a region (`scan`, `control.py`) runs it on its body through `linearize`, so a loop's
gradient is built from the body's own rules. It builds IR with the builder it is given
(`b.into(function)`), so it imports no layer above the ops.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import UNKNOWN_LOC, Function, Loc, Node, Value
from . import registry


class GradError(Exception):
    """A function that cannot be differentiated as asked (the front end reports E0305)."""

    def __init__(self, message: str, loc: Loc = UNKNOWN_LOC):
        super().__init__(message)
        self.message = message
        self.loc = loc


def backward(b, new: Function, seeds: dict[int, Value], wrt: list[Value],
             source: Function) -> list[Value]:
    """Appends to `new` (through `b.into(new)`) the cotangent of each value in `wrt`,
    given `seeds` (value id -> cotangent) on values computed by the nodes already in `new`.

    1. Mark active the values that depend differentiably on `wrt`: results (of float
       type) of nodes that are not `nondiff` and have an active operand.
    2. Walk the nodes in reverse; skip a node with no active operand or no cotangent.
    3. Ask its op for operand cotangents: `vjp`, else `transpose`, located at the node
       and marked as its gradient; a missing result cotangent is passed as None.
    4. Add each cotangent of an active operand to that operand's sum (`add`).
    5. An argument in `wrt` with no cotangent gets zeros of its type.
    """
    b = b.into(new)
    forward = list(new.nodes)
    active = active_values(forward, wrt)
    cts = dict(seeds)
    for node in reversed(forward):
        results = [cts.get(id(r)) for r in node.results]
        if all(ct is None for ct in results):
            continue
        if not any(id(v) in active for v in node.operands):
            continue
        at = b.at(node.loc.in_gradient_of(node.op))
        for operand, ct in zip(node.operands, operand_cotangents(at, node, results)):
            if ct is not None and id(operand) in active:
                accumulate(cts, operand, ct, at)
    return [cts[id(arg)] if id(arg) in cts else zeros(b, arg, source) for arg in wrt]


def active_values(nodes: list[Node], wrt: list[Value]) -> set[int]:
    active = {id(v) for v in wrt}
    for node in nodes:
        if registry.get(node.op).nondiff is None and any(id(v) in active for v in node.operands):
            active.update(id(r) for r in node.results if r.type.is_float)
    return active


def operand_cotangents(b, node: Node, cts: list[Value | None]):
    op = registry.get(node.op)
    rule = op.vjp or op.transpose
    if rule is None:
        raise GradError(f"`{node.op}` has no gradient rule", node.loc)
    grads = tuple(rule(b, node, tuple(cts)))
    if len(grads) != len(node.operands):
        raise TypeError(f"gradient rule of `{node.op}` returned {len(grads)} cotangents "
                        f"for {len(node.operands)} operands")
    for i, (operand, ct) in enumerate(zip(node.operands, grads)):
        if ct is not None and ct.type != operand.type:
            raise TypeError(f"gradient rule of `{node.op}` returned `{ct.type}` for operand "
                            f"{i} of type `{operand.type}`")
    return grads


def accumulate(cts: dict[int, Value], value: Value, ct: Value, b) -> None:
    previous = cts.get(id(value))
    cts[id(value)] = ct if previous is None else b.emit("add", previous, ct)


def zeros(b, arg: Value, source: Function) -> Value:
    """Zeros of `arg`'s type, located at the argument, in the gradient of the function."""
    loc = arg.loc if arg.loc != UNKNOWN_LOC else source.loc
    return b.at(loc.in_gradient_of(source.name)).emit(
        "constant", value=0.0, dtype=arg.type.dtype, shape=arg.type.shape)


@dataclass
class Linearized:
    """A function's VJP split in two, as a loop's gradient needs it: the forward nodes
    are the function's own; `nodes` are the backward ones (and the forward constants
    they read, made again). They read `cotangents` (a
    free value per float result, None for the others), the function's arguments, and
    `residuals`: values the forward nodes computed (or arguments) that the backward
    ones use. `grads` are the cotangents of the float arguments, in order."""

    cotangents: list[Value | None]
    nodes: list[Node]
    residuals: list[Value]
    grads: list[Value]


def linearize(b, fn: Function) -> Linearized:
    """`fn`'s VJP with respect to its float arguments, split as `Linearized` says.

    1. Seed each float result with a fresh cotangent value (not an argument of anything
       yet: the caller makes it one of the backward function it builds).
    2. Run `backward` on a scratch function that shares `fn`'s arguments and nodes.
    3. The residuals are the values of `fn` that a backward node or a gradient reads.
    """
    joint = Function(f"{fn.name}_vjp", args=list(fn.args), nodes=list(fn.nodes), loc=fn.loc)
    forward_count = len(joint.nodes)
    seeds: dict[int, Value] = {}
    cotangents: list[Value | None] = []
    for i, result in enumerate(fn.results):
        ct = Value(result.type, name=f"ct{i}", loc=fn.loc) if result.type.is_float else None
        cotangents.append(ct)
        if ct is not None:
            accumulate(seeds, result, ct, b.into(joint).at(fn.loc.in_gradient_of(fn.name)))
    wrt = [a for a in fn.args if a.type.is_float]
    grads = backward(b, joint, seeds, wrt, fn)
    nodes = joint.nodes[forward_count:]
    own = {id(a) for a in fn.args} | {id(r) for n in fn.nodes for r in n.results}
    residuals: dict[int, Value] = {}
    recomputed: list[Node] = []
    for value in [v for n in nodes for v in n.operands] + grads:
        if id(value) not in own or id(value) in residuals:
            continue
        if value.node is not None and not value.node.operands:
            # A constant is cheaper to make again than to save at every step.
            if value.node not in recomputed:
                recomputed.append(value.node)
            continue
        residuals[id(value)] = value
    return Linearized(cotangents, recomputed + nodes, list(residuals.values()), grads)


def rebuild(nodes: list[Node], values: dict[int, Value], function: Function) -> None:
    """Appends to `function` a copy of each of `nodes` on operands mapped by `values`
    (value id -> value; updated with each copy's results). Types are unchanged, since
    every mapped value has the type of the one it stands for."""
    for node in nodes:
        operands = tuple(values.get(id(v), v) for v in node.operands)
        copy = Node(node.op, operands, node.attrs, tuple(r.type for r in node.results),
                    node.loc)
        function.nodes.append(copy)
        values.update((id(old), new) for old, new in zip(node.results, copy.results))
