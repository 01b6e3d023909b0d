"""DCE, CSE, canonicalization and the pipeline: what each removes (node counts), that
results are numerically unchanged, and that the verifier passes after every pass."""

from __future__ import annotations

import pytest

from dslc.compiler.backends.jax_lower import lower_function
from dslc.compiler.builder import Builder
from dslc.compiler.ir import Function, Module
from dslc.compiler.ir_text import print_function, print_module
from dslc.compiler.passes import (DEFAULT_PIPELINE, PASSES, Canonicalize, canonicalize,
                                  cse, dce, run_pipeline)
from dslc.compiler.passes.autodiff import grad_function
from dslc.compiler.passes.canonicalize import Pattern
from dslc.compiler.passes.inline import clone_function, inline
from dslc.compiler.verify import verify_function, verify_module
from test_ir_samples import (DIFFERENTIABLE, assert_close, make_function, random_args, sample,
                             sample_module)


def ops_of(fn: Function) -> list[str]:
    return [n.op for n in fn.nodes]


def assert_same_numbers(before: Function, after: Function, size: int = 3):
    args = random_args(before, size)
    assert_close(lower_function(after)(*args), lower_function(before)(*args))


def redundant(b, x, w):
    """Dead nodes, duplicates and identities, all removable."""
    b.exp(x)
    one, zero = b.const(1.0), b.const(0.0)
    a1 = b.mul(b.add(x, zero), one)
    a2 = b.neg(b.neg(b.mul(x, w)))
    a3 = b.mul(x, w)
    t = b.transpose(b.reshape(b.convert(a1, dtype="f32"), shape=("N", 3)), perm=(0, 1))
    total = b.add(b.add(t, a2), b.broadcast(a3, shape=("N", 3)))
    return b.sum(total, axes=None, keepdims=False)


def redundant_fn() -> Function:
    return make_function("redundant", {"x": "f32[N, 3]", "w": "f32[3]"}, redundant)


def test_dce_removes_unused_nodes():
    fn = make_function("f", {"x": "f32[N]"},
                       lambda b, x: (b.exp(b.tanh(x)), b.neg(x))[0])
    after = dce(fn)
    assert ops_of(after) == ["tanh", "exp"]
    verify_function(after)
    assert_same_numbers(fn, after)


def test_cse_merges_equal_nodes():
    fn = make_function("f", {"x": "f32[N]"}, lambda b, x: b.add(
        b.mul(b.exp(x), b.const(2.0)), b.mul(b.exp(x), b.const(2.0))))
    after = cse(fn)
    assert ops_of(after) == ["exp", "constant", "mul", "add"]
    assert after.results[0].node.operands[0] is after.results[0].node.operands[1]
    verify_function(after)
    assert_same_numbers(fn, after)


def test_cse_tells_attribute_values_apart():
    fn = make_function("f", {"x": "f32[N]"}, lambda b, x: b.add(
        b.add(b.mul(x, b.const(0.0)), b.mul(x, b.const(-0.0))),
        b.add(b.mul(x, b.const(1)), b.mul(x, b.const(1.0)))))
    assert ops_of(cse(fn)).count("constant") == 4


def test_canonicalize_removes_identities():
    fn = redundant_fn()
    after = dce(canonicalize(fn))
    verify_function(after)
    assert "neg" not in ops_of(after) and "transpose" not in ops_of(after)
    assert "convert" not in ops_of(after) and "reshape" not in ops_of(after)
    assert_same_numbers(fn, after)


def test_canonicalize_keeps_real_transposes_and_broadcasting_units():
    fn = make_function("f", {"x": "f32[3, 3]", "y": "f32[3]"}, lambda b, x, y: b.add(
        b.transpose(x, perm=(1, 0)), b.mul(y, b.const(1.0, "f32"))))
    after = dce(canonicalize(fn))
    assert "transpose" in ops_of(after) and "mul" not in ops_of(after)
    fn = make_function("g", {"y": "f32[]"}, lambda b, y: b.mul(
        y, b.emit("constant", value=1.0, dtype="f32", shape=(3,))))
    assert "mul" in ops_of(dce(canonicalize(fn)))


def test_canonicalize_reaches_a_fixed_point():
    fn = make_function("f", {"x": "f32[N]"},
                       lambda b, x: b.neg(b.neg(b.neg(b.neg(b.neg(x))))))
    after = dce(canonicalize(fn))
    assert ops_of(after) == ["neg"]


def test_canonicalize_with_custom_patterns():
    def exp_log(b, node):
        inner = node.operands[0].node
        return inner.operands[0] if inner is not None and inner.op == "log" else None

    fn = make_function("f", {"x": "f32[N]"}, lambda b, x: b.exp(b.log(x)))
    assert ops_of(dce(canonicalize(fn))) == ["log", "exp"]
    custom = Canonicalize(patterns=(Pattern("exp(log(x)) -> x", ("exp",), exp_log),))
    assert ops_of(dce(custom(fn))) == []


def test_canonicalize_rejects_type_changing_rules():
    bad = Canonicalize(patterns=(Pattern("bad", ("exp",), lambda b, node: b.const(1.0)),))
    fn = make_function("f", {"x": "f32[N]"}, lambda b, x: b.exp(x))
    with pytest.raises(TypeError, match="changed its type"):
        bad(fn)


def test_default_pipeline_shrinks_and_keeps_numbers():
    fn = redundant_fn()
    module = run_pipeline(Module({"redundant": fn}))
    after = module.functions["redundant"]
    assert ops_of(after) == ["mul", "add", "add", "sum"]
    assert_same_numbers(fn, after)


def test_verifier_passes_after_every_pass():
    module = sample_module()
    for name in [*DIFFERENTIABLE, "with_aux"]:
        module.add(grad_function(module.functions[name], has_aux=name == "with_aux"))
    module.add(redundant_fn())
    before = {name: clone_function(fn) for name, fn in module.functions.items()}
    seen = []

    def check(pass_name, current):
        verify_module(current)
        seen.append(pass_name)

    run_pipeline(module, DEFAULT_PIPELINE + ("dce",), after=check)
    assert seen == ["canonicalize", "cse", "dce", "dce"]
    for name, fn in module.functions.items():
        assert len(fn.nodes) <= len(before[name].nodes)
        assert_same_numbers(before[name], fn)


def test_passes_are_idempotent_on_their_output():
    module = run_pipeline(sample_module())
    text = print_module(module)
    assert print_module(run_pipeline(module)) == text


def test_cse_merges_equal_random_draws_only():
    fn = make_function("f", {"seed": "i32[]"}, lambda b, seed: b.add(
        b.add(b.random_normal(seed, shape=(2,), stream=1),
              b.random_normal(seed, shape=(2,), stream=1)),
        b.random_normal(seed, shape=(2,), stream=2)))
    after = cse(fn)
    assert ops_of(after).count("random_normal") == 2
    assert_same_numbers(fn, after)


def test_unknown_pass_is_refused():
    with pytest.raises(ValueError, match="unknown pass 'fusion'"):
        run_pipeline(Module(), ["fusion"])
    assert set(DEFAULT_PIPELINE) <= set(PASSES)


def test_clone_shares_nothing_and_inline_keeps_locations():
    fn = sample("linear")
    copy = clone_function(fn, "copy")
    assert print_function(copy, print_loc=True) == print_function(fn, print_loc=True).replace(
        "@linear", "@copy")
    old = {id(v) for n in fn.nodes for v in n.results} | {id(a) for a in fn.args}
    assert not old & {id(v) for n in copy.nodes for v in n.results}
    outer = Function("outer", loc=fn.loc)
    args = [outer.add_arg(a.type, a.name, a.loc) for a in fn.args]
    outer.results = inline(fn, Builder(outer, fn.loc), args)
    assert [n.loc for n in outer.nodes] == [n.loc for n in fn.nodes]
    with pytest.raises(ValueError, match="argument `x` is `f32\\[N, 2\\]`"):
        inline(fn, Builder(outer, fn.loc), list(reversed(args)))
