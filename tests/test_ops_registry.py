"""The op registry is complete: every op has a shape rule, a JAX lowering, a gradient
or an explained reason it has none, and a doc with a `.nn` example and its IR line."""

from __future__ import annotations

import re

import pytest

from dslc.compiler.backends.jax_lower import LoweringError, lower_function
from dslc.compiler.builder import Builder
from dslc.compiler.ir import UNKNOWN_LOC, Function, TensorType
from dslc.compiler.ops import FAMILIES
from dslc.compiler.ops.registry import OPS, all_ops, define

OP_NAMES = sorted(all_ops())


@pytest.mark.parametrize("name", OP_NAMES)
def test_op_has_every_rule(name):
    op = all_ops()[name]
    assert op.infer is not None, f"`{name}` has no shape rule"
    assert op.rule("jax") is not None, f"`{name}` has no JAX lowering"
    gradients = [op.vjp is not None, op.transpose is not None, bool(op.nondiff)]
    assert sum(gradients) == 1, f"`{name}` needs exactly one of vjp, transpose, nondiff"
    if op.nondiff:
        assert len(op.nondiff.split()) >= 3, f"`{name}` must explain why it is nondiff"
    assert op.family in FAMILIES


@pytest.mark.parametrize("name", OP_NAMES)
def test_op_doc_shows_source_and_ir(name):
    doc = all_ops()[name].doc
    assert re.search(r"^\s*\.nn:\s+\S", doc, re.M), f"`{name}` doc lacks a `.nn:` example"
    ir_line = rf"^\s*IR:\s+%\d+ = {re.escape(name)}( %\d+(, %\d+)*)?( \{{.*\}})? : \w+\[.*\]$"
    assert re.search(ir_line, doc, re.M), f"`{name}` doc lacks an `IR:` line"


def test_required_ops_are_registered():
    required = """constant add sub mul div neg pow square sqrt rsqrt exp log tanh sigmoid relu
        abs sign maximum minimum matmul transpose reshape broadcast sum mean max min concat
        slice eq ne lt le gt ge select convert stop_gradient one_hot argmax size
        random_uniform random_normal truncated_normal""".split()
    assert set(required) <= set(OP_NAMES)


def test_lowering_names_ops_without_a_jax_rule():
    define("test_only_identity", ("x",), family="elementwise", doc="test only",
           infer=lambda attrs, x: x, nondiff="defined only by this test")
    try:
        function = Function("f")
        x = function.add_arg(TensorType("f32", (2,)), "x")
        function.results = [Builder(function, UNKNOWN_LOC).test_only_identity(x)]
        with pytest.raises(LoweringError, match="no JAX lowering for op `test_only_identity`"):
            lower_function(function)
    finally:
        del OPS["test_only_identity"]
