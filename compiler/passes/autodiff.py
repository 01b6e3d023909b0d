"""Reverse-mode automatic differentiation as an IR-to-IR transform.

Consumes a function whose first result is a float scalar; produces a new function
computing its gradients with ordinary IR ops, built only from the registry's `vjp` and
`transpose` rules (the reverse walk is `ops/adjoint.py`, which loops share), so the
result can be printed, optimized and differentiated again.
"""

from __future__ import annotations

from typing import Sequence

from ..builder import Builder
from ..ir import UNKNOWN_LOC, Function, Loc, Value
from ..ops.adjoint import GradError, accumulate, backward
from .dce import dce
from .inline import empty_like, inline


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
    grads = backward(Builder(new, fn.loc), new, {id(value): seed}, [new.args[i] for i in wrt],
                     fn)
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
    grads = backward(Builder(new, fn.loc), new, seeds, [new.args[i] for i in wrt], fn)
    new.results = [*outputs, *grads]
    new.result_names = [*result_names(fn), *(f"grad_{fn.args[i].name or i}" for i in wrt)]
    new.result_roles = [*result_roles(fn), *[None] * len(grads)]
    return dce(new)


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
