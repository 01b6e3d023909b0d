"""Reverse-mode autodiff (IR to IR) against `jax.grad` of the lowered forward function,
on the shared samples, with symbolic dims run at two sizes; higher derivatives, aux
outputs, zero gradients and gradient provenance."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from dslc.compiler.backends.jax_lower import lower_function
from dslc.compiler.ir import Function
from dslc.compiler.ir_text import parse_function, print_function
from dslc.compiler.passes.autodiff import GradError, grad_function, vjp_function
from dslc.compiler.verify import verify_function
from test_ir_samples import (DIFFERENTIABLE, assert_close, make_function, random_args,
                             sample)


def jax_grads(fn: Function, wrt, args):
    forward = lower_function(fn)
    return jax.grad(lambda *a: forward(*a)[0], argnums=tuple(wrt))(*args)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_matches_jax_grad(name):
    fn = sample(name)
    wrt = tuple(range(len(fn.args)))
    grad_fn = grad_function(fn, wrt)
    verify_function(grad_fn)
    run = lower_function(grad_fn)
    for size in (2, 5):
        args = random_args(fn, size, seed=size)
        assert_close(run(*args), jax_grads(fn, wrt, args))


def test_gradient_survives_printing():
    grad_fn = grad_function(sample("mlp"), (1, 2))
    text = print_function(grad_fn, print_loc=True)
    parsed = parse_function(text)
    assert print_function(parsed, print_loc=True) == text
    args = random_args(grad_fn, 3)
    assert_close(lower_function(parsed)(*args), lower_function(grad_fn)(*args))


def test_falling_apple_acceleration():
    position = sample("falling")
    speed = grad_function(position, name="speed")
    acceleration = grad_function(speed, name="acceleration")
    jerk = grad_function(acceleration, name="jerk")
    for fn in (speed, acceleration, jerk):
        verify_function(fn)
    for time in (0.5, 1.0, 3.0):
        t = np.float32(time)
        assert np.isclose(lower_function(speed)(t)[0], 9.8 * time, rtol=1e-6)
        assert np.isclose(lower_function(acceleration)(t)[0], 9.8, rtol=1e-6)
        assert lower_function(jerk)(t)[0] == 0.0


@pytest.mark.parametrize("body", [
    lambda b, x: b.exp(b.tanh(b.mul(x, x))),
    lambda b, x: b.tanh(b.exp(b.neg(x))),
    lambda b, x: b.add(b.mul(b.mul(x, x), x), b.mul(b.const(3.0), x)),
    lambda b, x: b.div(b.sigmoid(x), b.add(x, b.const(2.0))),
], ids=["exp_tanh_sq", "tanh_exp_neg", "cubic", "sigmoid_over"])
def test_second_and_third_derivatives_match_jax(body):
    fn = make_function("f", {"x": "f32[]"}, body)
    forward = lower_function(fn)
    d1 = grad_function(fn)
    d2 = grad_function(d1)
    d3 = grad_function(d2)
    jd1 = jax.grad(lambda x: forward(x)[0])
    jd2, jd3 = jax.grad(jd1), jax.grad(jax.grad(jd1))
    for x in (np.float32(0.3), np.float32(1.2)):
        for ours, theirs in ((d1, jd1), (d2, jd2), (d3, jd3)):
            np.testing.assert_allclose(lower_function(ours)(x)[0], theirs(x), rtol=1e-4,
                                       atol=1e-5)


def test_with_value_and_aux():
    fn = sample("with_aux")
    fn.result_names = ["loss", "pred", "label"]
    both = grad_function(fn, (1,), with_value=True, has_aux=True)
    assert both.result_names == ["loss", "pred", "label", "grad_w"]
    assert [str(t) for t in both.result_types] == ["f32[]", "f32[N, 2]", "i32[N]", "f32[3, 2]"]
    only = grad_function(fn, (1,), has_aux=True)
    assert only.result_names == ["grad_w", "pred", "label"]
    args = random_args(fn, 4)
    value, pred, label, grad_w = lower_function(both)(*args)
    expected_value, expected_pred, expected_label = lower_function(fn)(*args)
    assert_close([value, pred, label], [expected_value, expected_pred, expected_label])
    assert_close([grad_w], jax_grads(fn, (1,), args))
    assert_close(lower_function(only)(*args), [grad_w, pred, label])


def test_unused_parameter_gets_zeros_of_its_symbolic_shape():
    fn = sample("unused_param")
    grad_fn = grad_function(fn, (2,))
    assert str(grad_fn.result_types[0]) == "f32[N, 2]"
    for size in (1, 3):
        (zeros,) = lower_function(grad_fn)(*random_args(fn, size))
        assert zeros.shape == (size, 2) and not np.any(zeros)


def test_gradient_nodes_are_located_at_their_forward_node():
    fn = sample("linear")
    forward_locs = {(n.loc.file, n.loc.line, n.loc.col): n.op for n in fn.nodes}
    grad_fn = grad_function(fn, (1, 2))
    marked = [n for n in grad_fn.nodes if n.loc.gradient_of]
    assert marked
    for node in marked:
        assert forward_locs[(node.loc.file, node.loc.line, node.loc.col)] == node.loc.gradient_of
    assert 'gradient_of "matmul"' in print_function(grad_fn, print_loc=True)
    assert any(n.loc.gradient_of is None for n in grad_fn.nodes)  # the forward pass


def test_vjp_function():
    fn = make_function("f", {"x": "f32[N, 3]", "w": "f32[3]"},
                       lambda b, x, w: (b.mul(x, w), b.sum(b.exp(x), axes=None,
                                                            keepdims=False)))
    vjp = vjp_function(fn)
    verify_function(vjp)
    assert vjp.arg_names == ["x", "w", "ct_result0", "ct_result1"]
    x, w = random_args(fn, 4)
    ct0, ct1 = np.ones((4, 3), np.float32) * 0.5, np.float32(2.0)
    out0, out1, gx, gw = lower_function(vjp)(x, w, ct0, ct1)
    _, pullback = jax.vjp(lambda x, w: tuple(lower_function(fn)(x, w)), x, w)
    assert_close([gx, gw], pullback((ct0, ct1)))


@pytest.mark.parametrize("args, body, wrt, has_aux, message", [
    ({"x": "f32[N]"}, lambda b, x: b.exp(x), (0,), False, "must return a float scalar"),
    ({"x": "i32[]"}, lambda b, x: b.convert(x, dtype="f32"), (0,), False,
     "only float arguments"),
    ({"x": "f32[]"}, lambda b, x: (x, x), (0,), False, "must be declared aux"),
    ({"x": "f32[]"}, lambda b, x: x, (3,), False, "has no argument 3"),
])
def test_grad_errors(args, body, wrt, has_aux, message):
    with pytest.raises(GradError, match=message):
        grad_function(make_function("f", args, body), wrt, has_aux=has_aux)


def test_identity_gradient_is_one():
    fn = make_function("f", {"x": "f32[]"}, lambda b, x: x)
    grad_fn = grad_function(fn)
    verify_function(grad_fn)
    assert lower_function(grad_fn)(np.float32(2.0))[0] == 1.0
