"""Common subexpression elimination: one node per distinct (op, operands, attributes).

All ops are pure, random ones included (same key and stream, same numbers), so two
nodes that agree on all three compute the same values and the later one is dropped.
"""

from __future__ import annotations

from typing import Any

from ..ir import Function
from .inline import FunctionCopy


def cse(fn: Function) -> Function:
    """A copy of `fn` in which equal nodes are merged.

    1. Walk the nodes in order, mapping each operand to its replacement.
    2. Key each node by op name, the identity of its (mapped) operands and its
       normalized attributes.
    3. A node whose key was seen takes the earlier node's results; others are copied
       and their key remembered.
    """
    copy = FunctionCopy(fn)
    seen: dict[Any, Any] = {}
    for node in fn.nodes:
        operands = copy.operands(node)
        key = (node.op, tuple(id(v) for v in operands), attr_key(node.attrs))
        if key in seen:
            copy.bind(node, seen[key])
        else:
            seen[key] = copy.copy(node).results
    return copy.finish()


def attr_key(value: Any) -> Any:
    """A hashable form of an attribute value that tells apart what the printer does:
    `1`, `1.0` and `true` differ (though equal in Python), so do `0.0` and `-0.0`,
    while `nan` equals itself."""
    kind = type(value)
    if kind is Function:  # a region: bodies are never mutated, so identity is equality
        return ("region", id(value))
    if kind is int or kind is str or kind is bool or value is None:
        return (kind.__name__, value)
    if hasattr(value, "tolist"):  # NumPy scalars and arrays
        value = value.tolist()
    if isinstance(value, dict):
        return ("dict", tuple((k, attr_key(v)) for k, v in sorted(value.items())))
    if isinstance(value, (list, tuple)):
        return ("seq", tuple(attr_key(v) for v in value))
    if isinstance(value, float):
        return ("float", repr(value))
    return (type(value).__name__, value)
