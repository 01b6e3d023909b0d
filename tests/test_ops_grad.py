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
from dslc.compiler.ir import DTYPES, UNKNOWN_LOC, Function, TensorType
from dslc.compiler.ops.registry import all_ops, get


@pytest.fixture(autouse=True, scope="module")
def float64():
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", previous)


REAL, POSITIVE = "real", "positive"
SIZES_OF_N = (2, 5)


class Case:
    """One op applied to operands of `shapes` (dims may be the symbol `N`)."""

    def __init__(self, op, *shapes, domains=(), dtypes=(), fd=True, **attrs):
        self.op, self.shapes, self.attrs, self.fd = op, shapes, attrs, fd
        self.domains = domains or (REAL,) * len(shapes)
        self.dtypes = dtypes or ("f64",) * len(shapes)

    @property
    def id(self):
        shapes = "_".join("x".join(map(str, s)) or "scalar" for s in self.shapes)
        attrs = ",".join(f"{k}={v}" for k, v in sorted(self.attrs.items()))
        return f"{self.op}[{shapes}]{attrs}"

    @property
    def types(self):
        return [TensorType(d, tuple(s)) for d, s in zip(self.dtypes, self.shapes)]


def concrete(shape, n):
    return tuple(n if d == "N" else d for d in shape)


def binary_cases(op, domains=(REAL, REAL)):
    shape_pairs = [([3, 4], [4]), ([3, 1], [1, 4]), ([], [2, 3]), (["N", 1], [4])]
    return [Case(op, x, y, domains=domains) for x, y in shape_pairs]


def unary_cases(op, domain=REAL):
    return [Case(op, shape, domains=(domain,)) for shape in (["N", 3], [])]


def reduction_cases(op):
    return [Case(op, [3, 4]), Case(op, [3, 4], axes=(1,), keepdims=True),
            Case(op, [2, 3, 4], axes=(-1, 0)), Case(op, ["N", 3], axes=(0,)),
            Case(op, ["N", 3], keepdims=True)]


CASES = [
    *binary_cases("add"), *binary_cases("sub"), *binary_cases("mul"),
    *binary_cases("div", (REAL, POSITIVE)), *binary_cases("pow", (POSITIVE, REAL)),
    *binary_cases("maximum"), *binary_cases("minimum"),
    *[case for op in ("neg", "square", "abs", "relu", "tanh", "sigmoid", "exp",
                      "softplus", "erf") for case in unary_cases(op)],
    *[case for op in ("sqrt", "rsqrt", "log", "log1p") for case in unary_cases(op, POSITIVE)],
    *[Case("matmul", x, y) for x, y in [
        ([3, 4], [4, 2]), ([4], [4]), ([3, 4], [4]), ([4], [4, 2]), ([2, 3, 4], [4, 5]),
        ([2, 1, 3, 4], [3, 4, 2]), ([3, 4], [2, 4, 5]), ([4], [2, 4, 3]),
        (["N", 4], [4, 2]), (["N", 3, 4], ["N", 4, 2])]],
    Case("transpose", [2, 3, 4], perm=(2, 0, 1)), Case("transpose", ["N", 3]),
    Case("reshape", [2, 6], shape=(3, 4)), Case("reshape", ["N", 6], shape=("N", 2, 3)),
    Case("reshape", [2, 3, 4], shape=(-1, 4)), Case("reshape", ["N", 2, 3], shape=(-1, 6)),
    Case("broadcast", [3], shape=(2, 3)), Case("broadcast", [3, 1], shape=(2, 3, 4)),
    Case("broadcast", [4], shape=("N", 4)), Case("broadcast", ["N", 1], shape=("N", 3)),
    *[case for op in ("sum", "mean", "max", "min") for case in reduction_cases(op)],
    Case("concat", [2, 3], [4, 3], axis=0), Case("concat", ["N", 2], ["N", 3], axis=-1),
    Case("concat", [2, 3], [2, 1], [2, 2], axis=1), Case("concat", ["N", 2], axis=0),
    Case("slice", [5, 6], start=(1, 0), limit=(5, 6), stride=(2, 3)),
    Case("slice", ["N", 6], start=(0, 1), limit=("N", 5), stride=(1, 2)),
    Case("slice", [4, 3], start=(1, 1), limit=(3, 3)),
    Case("pad", [3, 4], low=(1, 0), high=(0, 2), interior=(1, 0)),
    Case("pad", ["N", 3], low=(0, 1), high=(0, 1)),
    Case("select", [3, 4], [4], [3, 1], dtypes=("bool", "f64", "f64")),
    Case("select", ["N", 1], ["N", 3], [], dtypes=("bool", "f64", "f64")),
    Case("convert", [3, 4], dtypes=("f32",), dtype="f64", fd=False),
]


def random_input(rng, type_, shape, domain):
    if type_.dtype == "bool":
        return rng.random(shape) > 0.5
    if domain == POSITIVE:
        values = rng.uniform(0.5, 2.0, shape)
    else:
        values = rng.uniform(-2.0, 2.0, shape)
    return values.astype(DTYPES[type_.dtype])


def apply_rule(b, node, cotangents):
    op = get(node.op)
    return (op.vjp or op.transpose)(b, node, tuple(cotangents))


def gradient_function(case):
    """`(inputs..., ct) -> (output, cotangent per differentiable input)` as IR."""
    function = Function(case.op)
    inputs = [function.add_arg(t, f"x{i}") for i, t in enumerate(case.types)]
    b = Builder(function, UNKNOWN_LOC)
    out = b.emit(case.op, *inputs, **case.attrs)
    ct = function.add_arg(out.type, "ct")
    grads = apply_rule(b, out.node, [ct])
    assert len(grads) == len(inputs)
    wrt = [i for i, x in enumerate(inputs) if x.type.is_float]
    for i in wrt:
        assert grads[i] is not None and grads[i].type == inputs[i].type, (i, grads[i])
    function.results = [out] + [grads[i] for i in wrt]
    return function, wrt


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
    for n in SIZES_OF_N if function.symbols else (None,):
        xs = [random_input(rng, t, concrete(t.shape, n), d)
              for t, d in zip(case.types, case.domains)]
        ct_type = function.args[-1].type
        ct = random_input(rng, ct_type, concrete(ct_type.shape, n), REAL)

        def forward(*diff_inputs):
            return lowered(*substitute(xs, wrt, diff_inputs), ct)[0]

        grads = lowered(*xs, ct)[1:]
        _, reference_vjp = jax.vjp(forward, *[xs[i] for i in wrt])
        for got, want in zip(grads, reference_vjp(ct)):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
        if case.fd:
            check_finite_differences(forward, [xs[i] for i in wrt], grads, ct, rng)


def substitute(xs, positions, values):
    xs = list(xs)
    for i, value in zip(positions, values):
        xs[i] = value
    return xs


def check_finite_differences(forward, xs, grads, ct, rng, eps=1e-6):
    """`<ct, J v>` by central differences against `<grads, v>`, for a random `v`."""
    directions = [rng.standard_normal(np.shape(x)) for x in xs]
    plus = forward(*[x + eps * v for x, v in zip(xs, directions)])
    minus = forward(*[x - eps * v for x, v in zip(xs, directions)])
    numeric = np.sum(ct * (np.asarray(plus) - np.asarray(minus))) / (2 * eps)
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
    """`(inputs..., ct, w...) -> d<grads, w>/d inputs`, from the rule's IR alone."""
    function, wrt = gradient_function(case)
    grads = function.results[1:]
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
    _, wrt, first = compiled(case_id)
    function, _ = second_order_function(case)
    second = jax.jit(lower_function(function))
    rng = np.random.default_rng(1)
    n = SIZES_OF_N[0]
    xs = [random_input(rng, t, concrete(t.shape, n), d) for t, d in zip(case.types, case.domains)]
    ct_type, *w_types = function.args[len(case.types):]
    ct = random_input(rng, ct_type.type, concrete(ct_type.type.shape, n), REAL)
    ws = [random_input(rng, w.type, concrete(w.type.shape, n), REAL) for w in w_types]

    def gradients(*diff_inputs):
        return first(*substitute(xs, wrt, diff_inputs), ct)[1:]

    _, reference = jax.vjp(gradients, *[xs[i] for i in wrt])
    for got, want in zip(second(*xs, ct, *ws), reference(tuple(ws))):
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
