"""The verifier: each kind of broken IR, built by hand, is reported with its node."""

from __future__ import annotations

import pytest

from dslc.compiler.ir import UNKNOWN_LOC, Function, Loc, Module, Node, TensorType
from dslc.compiler.verify import VerifyError, verify_function, verify_module
from test_ir_samples import make_function


def chain() -> Function:
    """`f(x, y) = exp(x + y)` with three nodes: add, exp, and a sum."""
    return make_function("f", {"x": "f32[N, 3]", "y": "f32[3]"},
                         lambda b, x, y: b.sum(b.exp(b.add(x, y)), axes=None,
                                               keepdims=False))


def problems_of(fn: Function) -> list[str]:
    with pytest.raises(VerifyError) as error:
        verify_function(fn)
    return error.value.problems


def test_valid_function_passes():
    verify_function(chain())


def test_use_before_definition():
    fn = chain()
    fn.nodes[0], fn.nodes[1] = fn.nodes[1], fn.nodes[0]
    [problem] = problems_of(fn)
    assert "node 0 (`exp`" in problem and "operand 0 is used before it is defined" in problem


def test_operand_from_another_function():
    fn, other = chain(), chain()
    fn.nodes[1].operands = (other.nodes[0].result,)
    assert problems_of(fn) == [
        f"@f: node 1 (`exp` at {fn.nodes[1].loc}): operand 0 is not defined in this function"]


def test_argument_of_another_function():
    fn, other = chain(), chain()
    fn.nodes[0].operands = (other.args[0], fn.args[1])
    assert "operand 0 is not defined in this function" in problems_of(fn)[0]


def test_result_not_in_function():
    fn, other = chain(), chain()
    fn.results = [other.results[0]]
    assert problems_of(fn) == ["@f: result 0 is not defined in the function"]


def test_wrong_result_type():
    fn = chain()
    fn.nodes[1].results[0].type = TensorType("f32", ("N", 4))
    [problem] = problems_of(fn)
    assert "result types `f32[N, 4]` differ from the inferred `f32[N, 3]`" in problem


def test_missing_and_unknown_attributes():
    fn = chain()
    del fn.nodes[2].attrs["keepdims"]
    fn.nodes[2].attrs["color"] = "red"
    problems = problems_of(fn)
    assert any("unknown attribute `color`" in p for p in problems)
    assert any("missing attribute `keepdims`" in p for p in problems)


def test_missing_location():
    fn = chain()
    fn.nodes[0].loc = UNKNOWN_LOC
    assert "has no source location" in problems_of(fn)[0]


def test_unknown_op():
    fn = chain()
    fn.nodes[1].op = "frobnicate"
    assert "unknown op `frobnicate`" in problems_of(fn)[0]


def test_wrong_operand_count():
    fn = chain()
    fn.nodes[1].operands = (fn.args[0], fn.args[0])
    assert "has 2 operands, `exp` takes 1" in problems_of(fn)[0]


def test_shape_rule_failure():
    fn = chain()
    fn.args[1].type = TensorType("f32", (4,))
    problems = problems_of(fn)
    assert "its shape rule fails" in problems[0]


def test_node_listed_twice_and_dangling_results():
    fn = chain()
    fn.nodes.append(fn.nodes[0])
    assert any("appears twice" in p for p in problems_of(fn))
    fn = chain()
    stray = Node("exp", (fn.args[0],), {}, (TensorType("f32", ("N", 3)),), Loc("f.nn", 1, 1))
    fn.nodes[1].results = stray.results
    assert any("does not point back at its node" in p for p in problems_of(fn))


def test_reports_every_problem():
    fn = chain()
    fn.nodes[0].loc = UNKNOWN_LOC
    fn.nodes[1].op = "frobnicate"
    fn.result_names = ["a", "b"]
    assert len(problems_of(fn)) == 3


def test_module_key_must_match_name():
    module = Module({"g": chain()})
    with pytest.raises(VerifyError, match="registered as `g`"):
        verify_module(module)


def test_roles_are_known_and_in_signature_order():
    fn = chain()
    fn.args[0].role, fn.args[1].role = "input", "param"
    fn.result_roles = ["bogus"]
    assert problems_of(fn) == [
        "@f: argument 1 (param) comes after one with role input; roles come in the order "
        "rng, param, state, optimizer, metric_state, input, target",
        "@f: result 0 has the unknown role `bogus`"]
    fn.args[0].role, fn.args[1].role, fn.result_roles = "param", "input", ["loss", "metric"]
    assert problems_of(fn) == ["@f: 2 result roles for 1 results"]
