"""The op registry is complete: every op has a shape rule, a rule for every backend
(`BACKENDS`), a gradient or an explained reason it has none, typed attributes, known
traits, and a doc with a `.nn` example and its IR line. (That each rule agrees with
the NumPy reference is test_ops_backends; that the doc example runs, test_ops_docs.)"""

from __future__ import annotations

import re

import pytest

from dslc.compiler.backends.jax_lower import LoweringError, lower_function
from dslc.compiler.builder import Builder
from dslc.compiler.ir import UNKNOWN_LOC, Function, TensorType
from dslc.compiler.ops import FAMILIES
from dslc.compiler.frontend.builtins import builtin_globals
from dslc.compiler.frontend.op_builtins import operators
from dslc.compiler.ops.registry import BACKENDS, OPS, TRAITS, all_ops, define

OP_NAMES = sorted(all_ops())


@pytest.mark.parametrize("name", OP_NAMES)
def test_op_has_every_rule(name):
    op = all_ops()[name]
    assert op.infer is not None, f"`{name}` has no shape rule"
    missing = [backend for backend in BACKENDS if op.rule(backend) is None]
    assert not missing, f"`{name}` has no rule for {', '.join(missing)}"
    gradients = [op.vjp is not None, op.transpose is not None, bool(op.nondiff)]
    assert sum(gradients) == 1, f"`{name}` needs exactly one of vjp, transpose, nondiff"
    if op.nondiff:
        assert len(op.nondiff.split()) >= 3, f"`{name}` must explain why it is nondiff"
    assert op.family in FAMILIES


@pytest.mark.parametrize("name", OP_NAMES)
def test_op_attributes_and_traits_are_declared(name):
    op = all_ops()[name]
    untyped = sorted(key for key, attr in op.attrs.items() if attr.kind == "any")
    assert not untyped, f"`{name}` attributes {untyped} have no kind (`Attr(kind, ...)`)"
    assert op.traits <= set(TRAITS), f"`{name}` has unknown traits"


@pytest.mark.parametrize("name", OP_NAMES)
def test_op_doc_shows_source_and_ir(name):
    doc = all_ops()[name].doc
    assert re.search(r"^\s*\.nn:\s+\S", doc, re.M), f"`{name}` doc lacks a `.nn:` example"
    # An op with a region prints it inside its attributes, over several lines.
    ir_line = (rf"^\s*IR:\s+%\d+(, %\d+)* = {re.escape(name)}( %\d+(, %\d+)*)?(?s:( \{{.*?\}}))? "
               rf": \w+\[.*\]$")
    assert re.search(ir_line, doc, re.M), f"`{name}` doc lacks an `IR:` line"


@pytest.mark.parametrize("name", OP_NAMES)
def test_op_is_reachable_from_nn_or_says_why_not(name):
    op = all_ops()[name]
    assert (op.surface is None) != (op.internal is None), (
        f"`{name}` needs exactly one of `surface` (how `.nn` reaches it) and `internal` "
        f"(what makes it instead)")
    if op.surface is not None:
        assert op.surface.name or op.surface.operator, f"`{name}`'s surface is empty"
        if op.surface.name:
            assert builtin_globals()[op.surface.name].name == op.surface.name
        spelled = {operand.rstrip("*") for operand in op.operands} | set(op.attrs)
        assert {inner for _, inner in op.surface.parameters(op)} <= spelled


def test_surface_names_and_operators_are_distinct():
    names = [op.surface.name for op in all_ops().values() if op.surface and op.surface.name]
    operators_ = [(op.surface.operator, len(op.operands)) for op in all_ops().values()
                  if op.surface and op.surface.operator]
    assert len(names) == len(set(names)) and len(operators_) == len(set(operators_))
    assert set(operators_) == set(operators())


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
