"""Control flow: `scan`, a loop whose step is a region (a closed body function).

Law: `scan` applies its body once per index of the leading axis of its scanned
operands, threading a carry, like `jax.lax.scan`. Its shape rule reads the body's
signature; each backend runs the body as a function (`ctx.region`); its gradient is a
second `scan`, running the other way, over the body's own VJP (`adjoint.linearize`),
which reads the residuals the forward loop saved, stacked, as extra outputs.
"""

from __future__ import annotations

from ..ir import Function, TensorType, Value
from .adjoint import linearize, rebuild
from .common import require_rank
from .registry import Attr, ShapeError, define

FAMILY = "control"

scan = define("scan", ("operands*",), family=FAMILY, attrs={
    "body": Attr("region"), "num_consts": Attr("int", 0), "num_carry": Attr("int"),
    "reverse": Attr("bool", False)},
    internal="the `scan` builtin makes it, tracing its step function into the body",
    doc="""
A loop over the leading axis of the scanned operands, `jax.lax.scan`'s semantics. The
operands are `num_consts` constants, `num_carry` carries, then the scanned tensors
(at least one; their leading dims, the length, agree and may be symbolic). The body
takes the constants, the carries and one slice of each scanned tensor, and returns
the new carries (of the same types) and any per-step outputs; the results are the
final carries and the per-step outputs stacked along a new leading axis of the
length. With `reverse` the steps run from the last index to the first (the outputs
stay in index order).

    .nn:  s = scan(add, x0, xs)  # x0: f32[3], xs: f32[T, 3]
    IR:   %2 = scan %0, %1 {body = func @add(%0: f32[3] "arg0", %1: f32[3] "arg1") -> (f32[3]) {
            %2 = add %0, %1 : f32[3]
            return %2
          }, num_carry = 1, num_consts = 0, reverse = false} : f32[3]
""")


def split_operands(values, num_consts: int, num_carry: int):
    """(constants, carries, scanned) of a scan's operands (types or values)."""
    values = list(values)
    return (values[:num_consts], values[num_consts:num_consts + num_carry],
            values[num_consts + num_carry:])


def _types(types) -> str:
    return ", ".join(f"`{t}`" for t in types) or "nothing"


@scan.def_infer
def _(attrs, *types):
    body, num_consts, num_carry = attrs["body"], attrs["num_consts"], attrs["num_carry"]
    if num_consts < 0 or num_carry < 0 or num_consts + num_carry > len(types):
        raise ShapeError(f"`scan` has {len(types)} operands, fewer than its {num_consts} "
                         f"constants and {num_carry} carries", code="E0204")
    consts, carry, xs = split_operands(types, num_consts, num_carry)
    if not xs:
        raise ShapeError("`scan` needs at least one tensor to scan over", code="E0204",
                         help="the loop runs once per index of the scanned tensors' first axis")
    offset = num_consts + num_carry
    for index, x in enumerate(xs):
        require_rank("scan", x, range(1, 99), operand=offset + index, what="scanned operands")
        if x.shape[0] != xs[0].shape[0]:
            raise ShapeError(f"`scan` scanned operands differ in length: `{xs[0]}` and `{x}`",
                             code="E0202", operand=offset + index,
                             help="every scanned tensor has one slice per step, along its "
                             "first axis")
    length = xs[0].shape[0]
    given = [*consts, *carry, *(x.with_shape(x.shape[1:]) for x in xs)]
    if body.arg_types != given:
        raise ShapeError(f"`scan` body `@{body.name}` takes {_types(body.arg_types)}, but the "
                         f"constants, carries and slices are {_types(given)}", code="E0202")
    returned = body.result_types
    if returned[:num_carry] != carry:
        raise ShapeError(f"`scan` body `@{body.name}` returns the carry as "
                         f"{_types(returned[:num_carry])}, but it starts as {_types(carry)}",
                         code="E0202", operand=num_consts,
                         help="the carry keeps its dtype and shape from step to step")
    return tuple(carry) + tuple(TensorType(y.dtype, (length,) + y.shape)
                                for y in returned[num_carry:])


@scan.def_jax
def _(ctx, *operands, body, num_consts, num_carry, reverse):
    consts, init, xs = split_operands(operands, num_consts, num_carry)
    step = ctx.region(body)

    def one_step(carry, x):
        out = step(*consts, *carry, *x)
        return tuple(out[:num_carry]), tuple(out[num_carry:])

    carry, ys = ctx.lax.scan(one_step, tuple(init), tuple(xs), reverse=reverse)
    return (*carry, *ys)


@scan.def_numpy
def _(ctx, *operands, body, num_consts, num_carry, reverse):
    consts, carry, xs = split_operands(operands, num_consts, num_carry)
    step = ctx.region(body)
    length = ctx.np.shape(xs[0])[0]
    steps = range(length - 1, -1, -1) if reverse else range(length)
    outputs = []
    for t in steps:
        out = step(*consts, *carry, *(x[t] for x in xs))
        carry, y = out[:num_carry], out[num_carry:]
        outputs.append(y)
    if reverse:
        outputs.reverse()
    stacked = [ctx.np.stack([y[j] for y in outputs]) if outputs
               else ctx.np.zeros(ctx.result_shape(num_carry + j), ctx.result_dtype(num_carry + j))
               for j in range(len(ctx.result_types) - num_carry)]
    return (*carry, *stacked)


def _call(step: str, consts, carry: str, slices) -> str:
    return f"{step}({', '.join([*consts, f'*{carry}', *slices])})"


@scan.def_tf
def _(ctx, *operands, body, num_consts, num_carry, reverse):
    # `tf.scan` stacks its whole accumulator, so the carry goes through it beside the
    # per-step outputs (started as zeros); the final carry is its last (first, in
    # reverse) entry. It is a `tf.while_loop`, which XLA compiles.
    consts, init, xs = split_operands(operands, num_consts, num_carry)
    step = ctx.region(body, "step")
    ys = range(num_carry, len(ctx.result_types))
    fn, acc, x, out = ctx.fresh("scan_step"), ctx.fresh("acc"), ctx.fresh("x"), ctx.fresh("out")
    slices = [f"{x}[{i}]" for i in range(len(xs))]
    ctx.emit(f"def {fn}({acc}, {x}):")
    ctx.emit(f"    {out} = {_call(step, consts, f'{acc}[0]', slices)}")
    ctx.emit(f"    return (tuple({out}[:{num_carry}]), tuple({out}[{num_carry}:]))")
    zeros = [f"tf.zeros({ctx.shape(ctx.result_types[j].shape[1:])}, "
             f"{ctx.dtype(ctx.result_types[j].dtype)})" for j in ys]
    stacked = ctx.fresh("scanned")
    ctx.emit(f"{stacked} = tf.scan({fn}, {_tuple(xs)}, initializer=({_tuple(init)}, "
             f"{_tuple(zeros)}), reverse={reverse})")
    final = 0 if reverse else -1
    return ([f"{stacked}[0][{i}][{final}]" for i in range(num_carry)]
            + [f"{stacked}[1][{j - num_carry}]" for j in ys])


@scan.def_torch
def _(ctx, *operands, body, num_consts, num_carry, reverse):
    # A Python loop: torch.compile unrolls it (the length becomes static), fullgraph.
    consts, init, xs = split_operands(operands, num_consts, num_carry)
    step = ctx.region(body, "step")
    length = ctx.dim(ctx.operand_types[num_consts + num_carry].shape[0])
    carry, outputs, t, out = (ctx.fresh("carry"), ctx.fresh("outputs"), ctx.fresh("t"),
                              ctx.fresh("out"))
    steps = f"range({length} - 1, -1, -1)" if reverse else f"range({length})"
    ctx.emit(f"{carry} = {_tuple(init)}")
    ctx.emit(f"{outputs} = []")
    ctx.emit(f"for {t} in {steps}:")
    ctx.emit(f"    {out} = {_call(step, consts, carry, [f'{x}[{t}]' for x in xs])}")
    ctx.emit(f"    {carry} = {out}[:{num_carry}]")
    ctx.emit(f"    {outputs}.append({out}[{num_carry}:])")
    if reverse:
        ctx.emit(f"{outputs}.reverse()")
    each = ctx.fresh("step_out")
    return ([f"{carry}[{i}]" for i in range(num_carry)]
            + [f"torch.stack([{each}[{j}] for {each} in {outputs}])"
               for j in range(len(ctx.result_types) - num_carry)])


def _tuple(items) -> str:
    return f"({', '.join(items)},)" if items else "()"


@scan.def_vjp
def _(b, node, cts):
    """The loop's gradient, a loop the other way over the body's VJP.

    1. Linearize the body: its backward nodes, and the residuals they read.
    2. Rerun the forward loop with the residuals that are neither constants nor
       slices (carries, values the body computes) as extra, stacked outputs.
    3. Build the backward body: it takes the constants; carries the cotangents of the
       float carries and sums of the float constants' cotangents; and scans the
       cotangents of the float outputs, the forward slices and the residuals. It
       returns the carries' cotangents, the sums plus this step's, and the slices'.
    4. Scan it in the other direction, from the final carries' cotangents (zeros
       where none) and zero sums; the stacked outputs are the scanned operands'.
    """
    attrs = node.attrs
    body, num_consts, num_carry = attrs["body"], attrs["num_consts"], attrs["num_carry"]
    consts, init, xs = split_operands(node.operands, num_consts, num_carry)
    arg_consts, arg_carry, arg_xs = split_operands(body.args, num_consts, num_carry)
    lin = linearize(b, body)
    at_hand = {id(a) for a in (*arg_consts, *arg_xs)}
    saved = [r for r in lin.residuals if id(r) not in at_hand]
    stacked = []
    if saved:
        forward = Function(body.name, args=body.args, nodes=body.nodes,
                           results=[*body.results, *saved], loc=body.loc)
        outs = b.emit("scan", *node.operands, **{**attrs, "body": forward})
        outs = outs if isinstance(outs, tuple) else (outs,)
        stacked = list(outs[len(node.results):])

    backward = Function(f"{body.name}_transpose", loc=body.loc)
    values: dict[int, Value] = {}

    def take(value: Value, name: str) -> Value:
        values[id(value)] = backward.add_arg(value.type, name, value.loc)
        return values[id(value)]

    for a in arg_consts:
        take(a, a.name or "const")
    float_carry = [i for i, a in enumerate(arg_carry) if a.type.is_float]
    float_consts = [j for j, a in enumerate(arg_consts) if a.type.is_float]
    float_ys = [k for k, ct in enumerate(lin.cotangents[num_carry:]) if ct is not None]
    for i in float_carry:
        take(lin.cotangents[i], f"ct_carry{i}")
    sums = [backward.add_arg(arg_consts[j].type, f"sum_ct{j}") for j in float_consts]
    for k in float_ys:
        take(lin.cotangents[num_carry + k], f"ct_y{k}")
    for a in arg_xs:
        take(a, a.name or "x")
    for n, r in enumerate(saved):
        take(r, f"residual{n}")
    rebuild(lin.nodes, values, backward)
    grad_of = {id(a): g for a, g in zip([a for a in body.args if a.type.is_float], lin.grads)}

    def grad(arg: Value) -> Value:
        g = grad_of[id(arg)]
        return values.get(id(g), g)

    bb = b.into(backward)
    backward.results = ([grad(arg_carry[i]) for i in float_carry]
                        + [bb.emit("add", s, grad(arg_consts[j]))
                           for s, j in zip(sums, float_consts)]
                        + [grad(a) for a in arg_xs if a.type.is_float])

    def zeros(type_: TensorType) -> Value:
        return b.emit("constant", value=0.0, dtype=type_.dtype, shape=type_.shape)

    final_cts = [cts[i] if cts[i] is not None else zeros(init[i].type) for i in float_carry]
    y_cts = [cts[num_carry + k] if cts[num_carry + k] is not None
             else zeros(node.results[num_carry + k].type) for k in float_ys]
    outs = b.emit("scan", *consts, *final_cts, *(zeros(consts[j].type) for j in float_consts),
                  *y_cts, *xs, *stacked, body=backward, num_consts=num_consts,
                  num_carry=len(float_carry) + len(float_consts), reverse=not attrs["reverse"])
    outs = list(outs) if isinstance(outs, tuple) else [outs]
    carry_cts = dict(zip(float_carry, outs))
    const_cts = dict(zip(float_consts, outs[len(float_carry):]))
    x_cts = iter(outs[len(float_carry) + len(float_consts):])
    return ([const_cts.get(j) for j in range(num_consts)]
            + [carry_cts.get(i) for i in range(num_carry)]
            + [next(x_cts) if a.type.is_float else None for a in arg_xs])
