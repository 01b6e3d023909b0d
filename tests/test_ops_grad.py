"""Every differentiable op's VJP (or transpose) rule, checked without the autodiff pass.

For each case we build an IR function `(inputs..., ct) -> (output, cotangents...)`
with the op and the IR its rule builds, lower it with `jax_lower`, and compare the
cotangents with `jax.vjp` of the op's own lowering and with central finite
differences in float64, over broadcasting and symbolic shapes. A tiny reverse walk
over the rule's own IR then checks second derivatives against JAX's.
"""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest

from dslc.compiler.backends.jax_lower import lower_function
from dslc.compiler.builder import Builder
from dslc.compiler.ir import UNKNOWN_LOC, Function, TensorType
from dslc.compiler.ops.registry import all_ops, get
from op_cases import GRADIENT_CASES as CASES, REAL, SIZES_OF_N, concrete, random_input


pytestmark = pytest.mark.usefixtures("jax_float64")


def apply_rule(b, node, cotangents):
    op = get(node.op)
    return (op.vjp or op.transpose)(b, node, tuple(cotangents))


def gradient_function(case):
    """`(inputs..., cts...) -> (outputs..., cotangent per differentiable input)` as IR,
    with a cotangent argument per float output (an op such as `scan` has several)."""
    function = Function(case.op)
    inputs = [function.add_arg(t, f"x{i}") for i, t in enumerate(case.types)]
    b = Builder(function, UNKNOWN_LOC)
    out = b.emit(case.op, *inputs, **case.attrs)
    outs = list(out) if isinstance(out, tuple) else [out]
    cts = [function.add_arg(o.type, f"ct{i}") if o.type.is_float else None
           for i, o in enumerate(outs)]
    grads = apply_rule(b, outs[0].node, cts)
    assert len(grads) == len(inputs)
    wrt = [i for i, x in enumerate(inputs) if x.type.is_float]
    for i in wrt:
        assert grads[i] is not None and grads[i].type == inputs[i].type, (i, grads[i])
    function.results = outs + [grads[i] for i in wrt]
    return function, wrt


def outputs_of(function, case):
    """How many outputs the op under test has (the gradient function returns them first)."""
    return len(function.results) - sum(t.is_float for t in case.types)


def float_outputs(outs):
    """The outputs that a cotangent is given for (the float ones)."""
    return tuple(o for o in outs if np.issubdtype(o.dtype, np.floating))


@functools.cache
def compiled(case_id):
    case = CASE_BY_ID[case_id]
    function, wrt = gradient_function(case)
    return function, wrt, jax.jit(lower_function(function))


CASE_BY_ID = {case.id: case for case in CASES}


def test_cases_cover_every_differentiable_op():
    differentiable = {name for name, op in all_ops().items() if not op.nondiff}
    assert differentiable == {case.op for case in CASES}


@pytest.mark.parametrize("case_id", list(CASE_BY_ID))
def test_vjp_matches_jax_and_finite_differences(case_id):
    case = CASE_BY_ID[case_id]
    function, wrt, lowered = compiled(case_id)
    rng = np.random.default_rng(0)
    count = outputs_of(function, case)
    for n in SIZES_OF_N if function.symbols else (None,):
        xs = [random_input(rng, t, concrete(t.shape, n), d)
              for t, d in zip(case.types, case.domains)]
        ct = [random_input(rng, a.type, concrete(a.type.shape, n), REAL)
              for a in function.args[len(case.types):]]

        def forward(*diff_inputs):
            return float_outputs(lowered(*substitute(xs, wrt, diff_inputs), *ct)[:count])

        grads = lowered(*xs, *ct)[count:]
        _, reference_vjp = jax.vjp(forward, *[xs[i] for i in wrt])
        for got, want in zip(grads, reference_vjp(tuple(ct))):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
        if case.fd:
            check_finite_differences(forward, [xs[i] for i in wrt], grads, ct, rng)


def substitute(xs, positions, values):
    xs = list(xs)
    for i, value in zip(positions, values):
        xs[i] = value
    return xs


def check_finite_differences(forward, xs, grads, ct, rng, eps=1e-6):
    """`<ct, J v>` by central differences against `<grads, v>`, for a random `v`; `ct`
    holds a cotangent per output of `forward`."""
    directions = [rng.standard_normal(np.shape(x)) for x in xs]
    plus = forward(*[x + eps * v for x, v in zip(xs, directions)])
    minus = forward(*[x - eps * v for x, v in zip(xs, directions)])
    numeric = sum(np.sum(c * (np.asarray(p) - np.asarray(m)))
                  for c, p, m in zip(ct, plus, minus)) / (2 * eps)
    analytic = sum(np.sum(np.asarray(g) * v) for g, v in zip(grads, directions))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7)


def reverse_walk(b, nodes, seeds, wrt):
    """Cotangents of `wrt` from `seeds` ((value, cotangent) pairs) through `nodes`, applying
    each op's own rule: the autodiff pass in miniature, to differentiate gradients."""
    cotangents = {}
    for value, seed in seeds:
        cotangents[value] = b.add(cotangents[value], seed) if value in cotangents else seed
    for node in reversed(nodes):
        outs = [cotangents.get(r) for r in node.results]
        if get(node.op).nondiff or all(c is None for c in outs):
            continue
        for operand, grad in zip(node.operands, apply_rule(b, node, outs)):
            if grad is not None:
                known = cotangents.get(operand)
                cotangents[operand] = grad if known is None else b.add(known, grad)
    return [cotangents.get(value) for value in wrt]


def second_order_function(case):
    """`(inputs..., cts..., w...) -> d<grads, w>/d inputs`, from the rule's IR alone."""
    function, wrt = gradient_function(case)
    grads = function.results[outputs_of(function, case):]
    seeds = [(g, function.add_arg(g.type, f"w{i}")) for i, g in enumerate(grads)]
    inputs = [function.args[i] for i in wrt]
    b = Builder(function, UNKNOWN_LOC)
    second = reverse_walk(b, list(function.nodes), seeds, inputs)
    function.results = [s if s is not None else b.constant(value=0, dtype=x.type.dtype,
                                                           shape=x.type.shape)
                        for s, x in zip(second, inputs)]
    return function, wrt


FIRST_CASE_OF_OP = list({case.op: case.id for case in reversed(CASES)}.values())


@pytest.mark.parametrize("case_id", FIRST_CASE_OF_OP)
def test_gradient_of_gradient_matches_jax(case_id):
    case = CASE_BY_ID[case_id]
    first_function, wrt, first = compiled(case_id)
    function, _ = second_order_function(case)
    second = jax.jit(lower_function(function))
    rng = np.random.default_rng(1)
    n = SIZES_OF_N[0]
    xs = [random_input(rng, t, concrete(t.shape, n), d) for t, d in zip(case.types, case.domains)]
    count = outputs_of(first_function, case)
    ct_args = first_function.args[len(case.types):]
    ct = [random_input(rng, a.type, concrete(a.type.shape, n), REAL) for a in ct_args]
    w_types = function.args[len(case.types) + len(ct_args):]
    ws = [random_input(rng, w.type, concrete(w.type.shape, n), REAL) for w in w_types]

    def gradients(*diff_inputs):
        return first(*substitute(xs, wrt, diff_inputs), *ct)[count:]

    _, reference = jax.vjp(gradients, *[xs[i] for i in wrt])
    for got, want in zip(second(*xs, *ct, *ws), reference(tuple(ws))):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_falling_apple_acceleration_is_constant():
    """position(t) = 4.9 t**2, differentiated twice by the rules' own IR: 9.8."""
    function = Function("acceleration")
    t = function.add_arg(TensorType("f64", ()), "t")
    b = Builder(function, UNKNOWN_LOC)
    position = b.mul(b.const(4.9, "f64"), b.pow(t, b.const(2.0, "f64")))
    (speed,) = reverse_walk(b, list(function.nodes), [(position, b.const(1.0, "f64"))], [t])
    (acceleration,) = reverse_walk(b, list(function.nodes), [(speed, b.const(1.0, "f64"))], [t])
    function.results = [speed, acceleration]
    run = lower_function(function)

    def reference(t):
        return 4.9 * t ** 2

    for time in (0.5, 1.0, 3.0):
        speed_value, acceleration_value = run(np.float64(time))
        np.testing.assert_allclose(speed_value, jax.grad(reference)(time), rtol=1e-12)
        np.testing.assert_allclose(acceleration_value, 9.8, rtol=1e-12)
        np.testing.assert_allclose(acceleration_value, jax.grad(jax.grad(reference))(time))


def test_hessian_of_softmax_cross_entropy_matches_jax():
    """A small composite (log-sum-exp minus a logit): its full Hessian, one
    Hessian-vector product per basis vector, against `jax.hessian`."""
    function = Function("hessian")
    z = function.add_arg(TensorType("f64", (4,)), "z")
    basis = function.add_arg(TensorType("f64", (4,)), "e")
    b = Builder(function, UNKNOWN_LOC)
    peak = b.max(z)
    lse = b.add(b.log(b.sum(b.exp(b.sub(z, peak)))), peak)
    loss = b.sub(lse, b.sum(b.mul(z, b.const(0.25, "f64"))))
    (grad,) = reverse_walk(b, list(function.nodes), [(loss, b.const(1.0, "f64"))], [z])
    (hvp,) = reverse_walk(b, list(function.nodes), [(grad, basis)], [z])
    function.results = [hvp]
    run = jax.jit(lower_function(function))

    def reference(z):
        return jax.nn.logsumexp(z) - 0.25 * z.sum()

    values = np.array([0.3, -1.2, 2.0, 0.7])
    hessian = np.stack([run(values, row)[0] for row in np.eye(4)])
    np.testing.assert_allclose(hessian, jax.hessian(reference)(values), rtol=1e-10, atol=1e-12)
