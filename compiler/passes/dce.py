"""Dead code elimination: drops nodes none of whose results reach a function result.

Every op is pure (random ops take their key as an operand), so a node whose results
are unused can go. Runs last in the default pipeline, after rewrites leave dead nodes.
"""

from __future__ import annotations

from ..ir import Function


def dce(fn: Function) -> Function:
    """`fn` without its dead nodes.

    1. Mark the nodes that define the function's results live.
    2. Walk the nodes backwards; a live node marks the nodes defining its operands live.
    3. Keep the live nodes, in their order (operands of live nodes are live, so they
       need no remapping).
    """
    live = {id(r.node) for r in fn.results if r.node is not None}
    for node in reversed(fn.nodes):
        if id(node) in live:
            live.update(id(v.node) for v in node.operands if v.node is not None)
    if len(live) == len(fn.nodes):
        return fn
    return Function(fn.name, args=fn.args, nodes=[n for n in fn.nodes if id(n) in live],
                    results=fn.results, result_names=fn.result_names, loc=fn.loc,
                    result_roles=fn.result_roles)
