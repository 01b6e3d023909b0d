"""Canonicalization: local rewrites to a simpler equivalent form, to a fixed point.

Applies each op's own `OpDef.canonicalize` rules, then the generic `CANONICAL_PATTERNS`
below. Rewrites leave dead nodes behind for `dce`; every type is re-inferred.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..builder import Builder
from ..ir import Function, Node, Value
from ..ops import registry
from .inline import FunctionCopy

Rule = Callable[[Builder, Node], "Value | None"]


@dataclass(frozen=True)
class Pattern:
    """`rule(b, node)` returns the value that replaces the one-result `node` (built
    with `b` if new), or None when it does not apply; `ops` are the ops it matches."""

    name: str
    ops: tuple[str, ...]
    rule: Rule


def is_scalar_constant(value: Value, number) -> bool:
    node = value.node
    if node is None or node.op != "constant":
        return False
    attr = node.attrs.get("value")
    return type(attr) in (int, float, bool) and attr == number


def unit_operand(unit, sides=(0, 1)) -> Rule:
    """`x op unit -> x` (and `unit op x` for the sides given), when the unit
    constant does not change the result's type by broadcasting."""
    def rule(b: Builder, node: Node) -> Value | None:
        for side in sides:
            x, other = node.operands[1 - side], node.operands[side]
            if is_scalar_constant(other, unit) and x.type == node.result.type:
                return x
        return None
    return rule


def involution(b: Builder, node: Node) -> Value | None:
    """`f(f(x)) -> x` for an op that is its own inverse."""
    (inner,) = node.operands
    return inner.node.operands[0] if inner.node is not None and inner.node.op == node.op \
        else None


def same_type(b: Builder, node: Node) -> Value | None:
    """A reshape, broadcast or conversion to the type its operand has already."""
    x = node.operands[0]
    return x if x.type == node.result.type else None


def identity_permutation(b: Builder, node: Node) -> Value | None:
    perm = tuple(node.attrs["perm"])
    return node.operands[0] if perm == tuple(range(len(perm))) else None


CANONICAL_PATTERNS: tuple[Pattern, ...] = (
    Pattern("x * 1 -> x", ("mul",), unit_operand(1)),
    Pattern("x + 0 -> x", ("add",), unit_operand(0)),
    Pattern("x - 0 -> x", ("sub",), unit_operand(0, sides=(1,))),
    Pattern("x / 1 -> x", ("div",), unit_operand(1, sides=(1,))),
    Pattern("neg(neg(x)) -> x", ("neg",), involution),
    Pattern("no-op reshape, broadcast, convert", ("reshape", "broadcast", "convert"),
            same_type),
    Pattern("identity transpose", ("transpose",), identity_permutation),
)


@dataclass(frozen=True)
class Canonicalize:
    """Rewrites every node with the first rule that applies, until none does.

    1. Walk the nodes in order; rebuild each on its (mapped) operands without adding it.
    2. Try the op's own rules, then the patterns that name the op; the first one that
       returns a value replaces the node's result, which must keep its type.
    3. Otherwise add the rebuilt node.
    4. Repeat on the result while some rule applied, at most `max_rounds` times.
    """

    patterns: tuple[Pattern, ...] = CANONICAL_PATTERNS
    max_rounds: int = 8

    def __call__(self, fn: Function) -> Function:
        for _ in range(self.max_rounds):
            fn, changed = self.rewrite_once(fn)
            if not changed:
                break
        return fn

    def rewrite_once(self, fn: Function) -> tuple[Function, bool]:
        copy = FunctionCopy(fn)
        changed = False
        for node in fn.nodes:
            b = Builder(copy.function, node.loc)
            operands = copy.operands(node)
            rebuilt = (node if copy.unchanged(node, operands)
                       else b.make_node(node.op, operands, node.attrs))
            replacement = self.rewrite(b, rebuilt) if len(rebuilt.results) == 1 else None
            if replacement is None:
                copy.function.nodes.append(rebuilt)
                if rebuilt is not node:
                    copy.bind(node, rebuilt.results)
            else:
                copy.bind(node, [replacement])
                changed = True
        return copy.finish(), changed

    def rewrite(self, b: Builder, node: Node) -> Value | None:
        rules = list(registry.get(node.op).canonicalize)
        rules += [p.rule for p in self.patterns if node.op in p.ops]
        for rule in rules:
            value = rule(b, node)
            if value is None or value is node.result:
                continue
            if value.type != node.result.type:
                raise TypeError(f"canonicalizing `{node.op}` at {node.loc} changed its type "
                                f"from `{node.result.type}` to `{value.type}`")
            return value
        return None


canonicalize = Canonicalize()
