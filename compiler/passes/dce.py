"""Dead code elimination: drops nodes none of whose results reach a function result.

Every op is pure (random ops take their key as an operand), so a node whose results
are unused can go. Runs last in the default pipeline, after rewrites leave dead nodes.
"""

from __future__ import annotations

from ..ir import Function
from .inline import FunctionCopy


def dce(fn: Function) -> Function:
    """A copy of `fn` without its dead nodes.

    1. Mark the nodes that define the function's results live.
    2. Walk the nodes backwards; a live node marks the nodes defining its operands live.
    3. Copy the live nodes, in their order, into a fresh function.
    """
    live = {id(r.node) for r in fn.results if r.node is not None}
    for node in reversed(fn.nodes):
        if id(node) in live:
            live.update(id(v.node) for v in node.operands if v.node is not None)
    copy = FunctionCopy(fn)
    for node in fn.nodes:
        if id(node) in live:
            copy.copy(node)
    return copy.finish()
