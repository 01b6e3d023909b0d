"""The IR verifier: checks the invariants every pass must keep.

Run by tests after every pass (`passes.run_pipeline(..., after=...)`) and by the driver
on request. It reads IR and the op registry; it never changes either.
"""

from __future__ import annotations

from .ir import ARG_ROLES, RESULT_ROLES, UNKNOWN_LOC, Function, Module, Node
from .ops import registry
from .ops.registry import ShapeError


class VerifyError(Exception):
    """Broken IR; `problems` lists every invariant that failed, one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("invalid IR:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


def verify_module(module: Module) -> None:
    problems = []
    for key, fn in module.functions.items():
        if key != fn.name:
            problems.append(f"function `@{fn.name}` is registered as `{key}`")
        problems.extend(function_problems(fn))
    if problems:
        raise VerifyError(problems)


def verify_function(fn: Function) -> None:
    problems = function_problems(fn)
    if problems:
        raise VerifyError(problems)


def function_problems(fn: Function) -> list[str]:
    """Every broken invariant of `fn`:

    1. arguments are argument values (no defining node) numbered by position;
    2. each node appears once, its op exists and its attributes are exactly the op's;
    3. each operand is an argument or the result of an earlier node of `fn` (dominance
       in a straight-line function);
    4. each node's results point back at it, with the types its op infers;
    5. each node has a real location (provenance is mandatory);
    6. results are values defined in `fn`, and result names, if any, match them;
    7. each region (a function held by a node) obeys 1-6 itself: it is closed, so its
       nodes use only its own values.
    """
    problems: list[str] = []
    defined = set()
    for i, arg in enumerate(fn.args):
        if arg.node is not None or arg.index != i:
            problems.append(f"@{fn.name}: argument {i} is not an argument value")
        defined.add(id(arg))
    later = {id(r) for node in fn.nodes for r in node.results}
    seen_nodes = set()
    for position, node in enumerate(fn.nodes):
        where = f"@{fn.name}: node {position} (`{node.op}` at {node.loc})"
        if id(node) in seen_nodes:
            problems.append(f"{where}: appears twice in the node list")
        seen_nodes.add(id(node))
        problems.extend(f"{where}: {p}" for p in node_problems(node, defined, later))
        defined.update(id(r) for r in node.results)
    for i, value in enumerate(fn.results):
        if id(value) not in defined:
            problems.append(f"@{fn.name}: result {i} is not defined in the function")
    if fn.result_names and len(fn.result_names) != len(fn.results):
        problems.append(f"@{fn.name}: {len(fn.result_names)} result names for "
                        f"{len(fn.results)} results")
    problems.extend(f"@{fn.name}: {p}" for p in signature_problems(fn))
    return problems


def signature_problems(fn: Function) -> list[str]:
    """Roles are known ones, a result role is given for every result or none, and
    roles come in the order of `ARG_ROLES` and `RESULT_ROLES`."""
    if fn.result_roles and len(fn.result_roles) != len(fn.results):
        return [f"{len(fn.result_roles)} result roles for {len(fn.results)} results"]
    return (role_problems("argument", [a.role for a in fn.args], ARG_ROLES)
            + role_problems("result", fn.result_roles, RESULT_ROLES))


def role_problems(what: str, roles, known) -> list[str]:
    order = list(known)
    problems, last = [], -1
    for i, role in enumerate(roles):
        if role is None:
            continue
        if role not in known:
            problems.append(f"{what} {i} has the unknown role `{role}`")
        elif order.index(role) < last:
            problems.append(f"{what} {i} ({role}) comes after one with role {order[last]}; roles "
                            f"come in the order {', '.join(order)}")
        else:
            last = order.index(role)
    return problems


def node_problems(node: Node, defined: set[int], later: set[int]) -> list[str]:
    """Steps 2-5 of `function_problems` for one node; `defined` holds the values that
    dominate it, `later` those defined anywhere in the function."""
    problems = []
    for i, value in enumerate(node.operands):
        if id(value) in defined:
            continue
        elif id(value) in later:
            problems.append(f"operand {i} is used before it is defined")
        else:
            problems.append(f"operand {i} is not defined in this function")
    for i, value in enumerate(node.results):
        if value.node is not node or value.index != i:
            problems.append(f"result {i} does not point back at its node")
    if node.loc is None or node.loc.file == UNKNOWN_LOC.file:
        problems.append("has no source location")
    op = registry.all_ops().get(node.op)
    if op is None:
        return problems + [f"unknown op `{node.op}`"]
    problems.extend(attr_problems(op, node))
    problems.extend(type_problems(op, node))
    for name, body in registry.regions(node.attrs).items():
        problems.extend(f"region `{name}`: {p}" for p in function_problems(body))
    return problems


def attr_problems(op: registry.OpDef, node: Node) -> list[str]:
    unknown = sorted(set(node.attrs) - set(op.attrs))
    missing = sorted(set(op.attrs) - set(node.attrs))
    problems = [f"unknown attribute `{k}`" for k in unknown]
    problems += [f"missing attribute `{k}`" for k in missing]
    return problems


def type_problems(op: registry.OpDef, node: Node) -> list[str]:
    fixed = len(op.operands) - op.variadic
    count = len(node.operands)
    if count < fixed or (not op.variadic and count != fixed):
        return [f"has {count} operands, `{op.name}` takes {'at least ' * op.variadic}{fixed}"]
    if set(node.attrs) != set(op.attrs):
        return []
    try:
        inferred = op.result_types(node.attrs, [v.type for v in node.operands])
    except ShapeError as error:
        return [f"its shape rule fails: {error.message}"]
    actual = tuple(r.type for r in node.results)
    if actual != inferred:
        shown = ", ".join(map(str, actual)) or "()"
        expected = ", ".join(map(str, inferred)) or "()"
        return [f"result types `{shown}` differ from the inferred `{expected}`"]
    return []
