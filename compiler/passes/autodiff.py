"""Reverse-mode automatic differentiation as an IR-to-IR transform.

Consumes a function whose first result is a float scalar; produces a new function
computing its gradients with ordinary IR ops, built only from the registry's `vjp` and
`transpose` rules, so the result can be printed, optimized and differentiated again.
"""

from __future__ import annotations

from typing import Sequence

from ..builder import Builder
from ..ir import UNKNOWN_LOC, Function, Loc, Node, Value
from ..ops import registry
from .dce import dce
from .inline import empty_like, inline


class GradError(Exception):
    """A function that cannot be differentiated as asked (the front end reports E0305)."""

    def __init__(self, message: str, loc: Loc = UNKNOWN_LOC):
        super().__init__(message)
        self.message = message
        self.loc = loc


def grad_function(fn: Function, wrt: Sequence[int] = (0,), *, with_value: bool = False,
                  has_aux: bool = False, name: str | None = None) -> Function:
    """The gradient of `fn`'s first result with respect to the arguments `wrt`.

    The new function takes `fn`'s arguments and returns `(value, *aux, *grads)` with
    `with_value`, else `(*grads, *aux)`; `aux` are `fn`'s other results, allowed only
    with `has_aux`. Like `jax.grad`, `jax.value_and_grad`.
    """
    check_output(fn, has_aux)
    wrt = check_wrt(fn, wrt)
    new = empty_like(fn, name or f"grad_{fn.name}")
    outputs = inline(fn, Builder(new, fn.loc), new.args)
    value, aux = outputs[0], outputs[1:]
    seed = Builder(new, gradient_loc(value, fn)).const(1.0, value.type.dtype)
    grads = backward(new, {id(value): seed}, [new.args[i] for i in wrt], fn)
    grad_names = [f"grad_{fn.args[i].name or i}" for i in wrt]
    aux_names = result_names(fn)[1:]
    roles, no_roles = result_roles(fn), [None] * len(grads)
    if with_value:
        new.results = [value, *aux, *grads]
        new.result_names = [result_names(fn)[0], *aux_names, *grad_names]
        new.result_roles = [*roles, *no_roles]
    else:
        new.results = [*grads, *aux]
        new.result_names = [*grad_names, *aux_names]
        new.result_roles = [*no_roles, *roles[1:]]
    return dce(new)


def vjp_function(fn: Function, wrt: Sequence[int] | None = None, *,
                 name: str | None = None) -> Function:
    """`fn` with a cotangent argument per result appended; returns `fn`'s results, then
    the cotangents of the arguments `wrt` (default: every float argument)."""
    if wrt is None:
        wrt = [i for i, a in enumerate(fn.args) if a.type.is_float]
    wrt = check_wrt(fn, wrt)
    new = empty_like(fn, name or f"vjp_{fn.name}")
    outputs = inline(fn, Builder(new, fn.loc), new.args)
    seeds: dict[int, Value] = {}
    for i, out in enumerate(outputs):
        ct = new.add_arg(out.type, f"ct_{result_names(fn)[i]}", fn.loc)
        accumulate(seeds, out, ct, Builder(new, gradient_loc(out, fn)))
    grads = backward(new, seeds, [new.args[i] for i in wrt], fn)
    new.results = [*outputs, *grads]
    new.result_names = [*result_names(fn), *(f"grad_{fn.args[i].name or i}" for i in wrt)]
    new.result_roles = [*result_roles(fn), *[None] * len(grads)]
    return dce(new)


def backward(new: Function, seeds: dict[int, Value], wrt: list[Value],
             source: Function) -> list[Value]:
    """Appends to `new` the cotangent of each value in `wrt`, given `seeds` (value id ->
    cotangent) on values computed by the nodes already in `new`.

    1. Mark active the values that depend differentiably on `wrt`: results (of float
       type) of nodes that are not `nondiff` and have an active operand.
    2. Walk the nodes in reverse; skip a node with no active operand or no cotangent.
    3. Ask its op for operand cotangents: `vjp`, else `transpose`, located at the node
       and marked as its gradient; a missing result cotangent is passed as None.
    4. Add each cotangent of an active operand to that operand's sum (`add`).
    5. An argument in `wrt` with no cotangent gets zeros of its type.
    """
    forward = list(new.nodes)
    active = active_values(forward, wrt)
    cts = dict(seeds)
    for node in reversed(forward):
        results = [cts.get(id(r)) for r in node.results]
        if all(ct is None for ct in results):
            continue
        if not any(id(v) in active for v in node.operands):
            continue
        b = Builder(new, node.loc.in_gradient_of(node.op))
        for operand, ct in zip(node.operands, operand_cotangents(b, node, results)):
            if ct is not None and id(operand) in active:
                accumulate(cts, operand, ct, b)
    return [cts[id(arg)] if id(arg) in cts else zeros(new, arg, source) for arg in wrt]


def active_values(nodes: list[Node], wrt: list[Value]) -> set[int]:
    active = {id(v) for v in wrt}
    for node in nodes:
        if registry.get(node.op).nondiff is None and any(id(v) in active for v in node.operands):
            active.update(id(r) for r in node.results if r.type.is_float)
    return active


def operand_cotangents(b: Builder, node: Node, cts: list[Value | None]):
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


def accumulate(cts: dict[int, Value], value: Value, ct: Value, b: Builder) -> None:
    previous = cts.get(id(value))
    cts[id(value)] = ct if previous is None else b.emit("add", previous, ct)


def zeros(new: Function, arg: Value, source: Function) -> Value:
    """Zeros of `arg`'s type, located at the argument, in the gradient of the function."""
    loc = arg.loc if arg.loc != UNKNOWN_LOC else source.loc
    b = Builder(new, loc.in_gradient_of(source.name))
    return b.emit("constant", value=0.0, dtype=arg.type.dtype, shape=arg.type.shape)


def gradient_loc(value: Value, fn: Function) -> Loc:
    if value.node is not None:
        return value.node.loc.in_gradient_of(value.node.op)
    loc = value.loc if value.loc != UNKNOWN_LOC else fn.loc
    return loc.in_gradient_of(fn.name)


def result_roles(fn: Function) -> list[str | None]:
    return list(fn.result_roles) if fn.result_roles else [None] * len(fn.results)


def result_names(fn: Function) -> list[str]:
    if len(fn.result_names) == len(fn.results):
        return list(fn.result_names)
    return [f"result{i}" for i in range(len(fn.results))]


def check_output(fn: Function, has_aux: bool) -> None:
    if not fn.results:
        raise GradError(f"`{fn.name}` returns nothing, so it has no gradient", fn.loc)
    first = fn.results[0].type
    if first.rank != 0 or not first.is_float:
        raise GradError(f"`{fn.name}` must return a float scalar (`f32[]`) to be "
                        f"differentiated, but returns `{first}`", fn.loc)
    if len(fn.results) > 1 and not has_aux:
        raise GradError(f"`{fn.name}` returns {len(fn.results)} values; only the first is "
                        f"differentiated, so the others must be declared aux", fn.loc)


def check_wrt(fn: Function, wrt: Sequence[int]) -> list[int]:
    indices = [int(i) for i in wrt]
    for i in indices:
        if not -len(fn.args) <= i < len(fn.args):
            raise GradError(f"`{fn.name}` has no argument {i}", fn.loc)
        arg = fn.args[i]
        if not arg.type.is_float:
            raise GradError(f"argument `{arg.name}` of `{fn.name}` is `{arg.type}`; only "
                            f"float arguments can be differentiated", arg.loc)
    return [i % len(fn.args) for i in indices]
