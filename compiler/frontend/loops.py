"""The `scan` builtin: `.nn`'s loop, `jax.lax.scan`'s contract. Its step function is
traced into a closed IR function that becomes the `scan` op's body region
(`compiler/ops/control.py`); the tensors the step reads from outside (through a
configured fn's arguments) become the op's constants. Consumed by `builtins.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Function, Loc, Value
from .binding import CallSite
from .trace import Trace
from .values import (Builtin, Configured, FnRef, GradOf, LayerInstance, ModelRef,
                     callable_name, kind_name)

SCAN_HELP = ("`scan(f, init, xs)` calls `f(carry, x)` once per index of `xs`' first axis; "
             "`f` returns the new carry, or the new carry and this step's output")


def _tensors(c: CallSite, name: str, value) -> tuple[list[Value], bool]:
    """A tensor or a list of tensors, as a list, and whether it was a list."""
    if isinstance(value, (list, tuple)):
        return [c.tensor(name, v) for v in value], True
    return [c.tensor(name, value)], False


def _types(values) -> str:
    return ", ".join(f"`{v.type}`" for v in values) or "nothing"


@dataclass
class Step:
    """A traced step: the body (constants, carries, slices -> carries, outputs), the
    outer tensors its constants stand for, and how its outputs were written (`ys`:
    None for no output, else whether they were a list)."""

    body: Function
    captured: list[Value]
    ys_is_list: bool | None


def scan_builtin(c: CallSite, f, init, xs, reverse=False):
    """`carry` (or `carry, ys`) after running `f` over the first axis of `xs`."""
    if not isinstance(f, (FnRef, Configured, GradOf, ModelRef, Builtin, LayerInstance)):
        raise c.fail("E0305", f"`scan` takes a function, found {kind_name(f)}", "f",
                     help=SCAN_HELP)
    if not isinstance(reverse, bool):
        raise c.fail("E0304", f"`reverse` should be `true` or `false`, found "
                     f"{kind_name(reverse)}", "reverse")
    carry, carry_is_list = _tensors(c, "init", init)
    scanned, xs_is_list = _tensors(c, "xs", xs)
    for x in scanned:
        if x.type.rank == 0 or x.type.shape[0] != scanned[0].type.shape[0]:
            raise c.fail("E0204", f"`scan` runs over the first axis of `xs`, but `xs` is "
                         f"{_types(scanned)}", "xs",
                         help="each tensor of `xs` needs a first axis, of one length; "
                         "move the time axis first with `moveaxis(x, 1, 0)`")
    step = trace_step(c, f, carry, scanned, carry_is_list, xs_is_list)
    outs = c.b.emit("scan", *step.captured, *carry, *scanned, body=step.body,
                    num_consts=len(step.captured), num_carry=len(carry), reverse=reverse)
    outs = list(outs) if isinstance(outs, tuple) else [outs]
    final = outs[:len(carry)] if carry_is_list else outs[0]
    if step.ys_is_list is None:
        return final
    ys = outs[len(carry):]
    return final, ys if step.ys_is_list else ys[0]


def trace_step(c: CallSite, f, carry, scanned, carry_is_list, xs_is_list) -> Step:
    """`f(carry, x)` traced into its own function, in the caller's mode.

    1. Give the function an argument per carry and per slice of `xs`, and call `f` on
       them (as lists where `init` and `xs` were lists).
    2. Split what it returns into the new carry and the outputs; check the carry keeps
       its structure and types.
    3. Close it: each outer tensor its nodes read becomes a constant argument, first.
    """
    loc = Loc.of(c.span)
    function = Function(callable_name(f), loc=loc)
    carry_args = [function.add_arg(v.type, f"carry{i}", loc) for i, v in enumerate(carry)]
    x_args = [function.add_arg(x.type.with_shape(x.type.shape[1:]), f"x{i}", loc)
              for i, x in enumerate(scanned)]
    # An evaluator like the caller's (the class, not an import: evaluate.py reaches the
    # builtins through layers.py, so importing it here would be a cycle).
    inner = type(c.ev)(Trace(function, training=c.ev.trace.training), c.ev.calls)
    args = [(carry_args if carry_is_list else carry_args[0], c.arg_spans.get("init", c.span)),
            (x_args if xs_is_list else x_args[0], c.arg_spans.get("xs", c.span))]
    returned = c.ev.calls.call(inner, f, args, {}, c.span)
    if inner.trace.rng is not None:
        raise c.fail("E0305", "the step of `scan` draws random numbers, which a loop "
                     "cannot do yet", "f", help="draw the numbers before the loop and scan "
                     "over them as part of `xs`")
    new_carry, ys = returned if isinstance(returned, tuple) and len(returned) == 2 \
        else (returned, None)
    new_list = list(new_carry) if isinstance(new_carry, (list, tuple)) else [new_carry]
    new_list = [inner.tensor(v, c.span) for v in new_list]
    if isinstance(new_carry, (list, tuple)) != carry_is_list or \
            [v.type for v in new_list] != [v.type for v in carry]:
        raise c.fail("E0202", f"the step of `scan` returns the carry as {_types(new_list)}, "
                     f"but it starts as {_types(carry)}", "f", help=SCAN_HELP +
                     "; the carry keeps its structure, dtype and shape from step to step")
    ys_list = [] if ys is None else list(ys) if isinstance(ys, (list, tuple)) else [ys]
    function.results = new_list + [inner.tensor(v, c.span) for v in ys_list]
    captured = close_over(function)
    return Step(function, captured, None if ys is None else isinstance(ys, (list, tuple)))


def close_over(function: Function) -> list[Value]:
    """Makes `function` closed: each value its nodes or results use that it does not
    define becomes a new argument, ahead of the others. Returns those outer values.
    (The nodes are the trace's own, fresh, so they are rewired in place.)"""
    own = {id(a) for a in function.args} | {id(r) for n in function.nodes for r in n.results}
    outer: dict[int, Value] = {}
    for value in [v for n in function.nodes for v in n.operands] + function.results:
        if id(value) not in own:
            outer.setdefault(id(value), value)
    if not outer:
        return []
    inner = {key: Value(v.type, None, 0, v.name or "const", v.loc)
             for key, v in outer.items()}
    function.args = list(inner.values()) + function.args
    for index, arg in enumerate(function.args):
        arg.index = index
    for node in function.nodes:
        node.operands = tuple(inner.get(id(v), v) for v in node.operands)
    function.results = [inner.get(id(v), v) for v in function.results]
    return list(outer.values())
