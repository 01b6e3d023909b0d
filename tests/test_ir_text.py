"""The IR text form: exact printing, round trips over every kind of attribute, and
parse errors that name the line at fault."""

from __future__ import annotations

import math

import pytest

from dslc.compiler.builder import Builder
from dslc.compiler.ir import Function, Loc, TensorType
from dslc.compiler.ir_text import (IRParseError, parse_function, parse_module,
                                   print_function)
from dslc.compiler.ops import registry
from dslc.compiler.verify import verify_function
from test_ir_samples import make_function, t

LINEAR_TEXT = """\
func @predict(%0: f32[N, 2] "x", %1: f32[2, 1] "W", %2: f32[1] "b") -> (f32[N, 1]) {
  %3 = matmul %0, %1 : f32[N, 1]
  %4 = add %3, %2 : f32[N, 1]
  return %4
}
"""


@pytest.fixture
def test_ops():
    """Two ops that exist only for these tests: `test.attrs` (identity, with one
    attribute of every kind) and `test.split` (two results)."""
    registry.all_ops()
    attrs = registry.define("test.attrs", ("x",), family="test", doc="identity",
                            attrs={k: None for k in "abcdefgh"}, infer=lambda attrs, x: x)
    split = registry.define("test.split", ("x",), family="test", doc="two results",
                            infer=lambda attrs, x: (x, x.with_dtype("i32")))
    yield attrs, split
    del registry.OPS["test.attrs"], registry.OPS["test.split"]


def linear_predict() -> Function:
    return make_function("predict", {"x": "f32[N, 2]", "W": "f32[2, 1]", "b": "f32[1]"},
                         lambda b, x, w, bias: b.add(b.matmul(x, w), bias))


def test_prints_canonical_form():
    assert print_function(linear_predict()) == LINEAR_TEXT


def test_prints_locations_on_request():
    text = print_function(linear_predict(), print_loc=True)
    assert 'func @predict(%0: f32[N, 2] "x" loc("predict.nn":1:10)' in text
    assert '%3 = matmul %0, %1 : f32[N, 1] loc("predict.nn":2:5)' in text


def test_gradient_location_round_trips():
    fn = linear_predict()
    node = fn.nodes[0]
    node.loc = node.loc.in_gradient_of("mul")
    text = print_function(fn, print_loc=True)
    assert 'loc("predict.nn":2:5, gradient_of "mul")' in text
    assert parse_function(text).nodes[0].loc == node.loc


def test_values_are_renumbered_and_attributes_sorted():
    fn = make_function("f", {"x": "f32[N, 3]"},
                       lambda b, x: b.sum(x, keepdims=True, axes=(1,)))
    assert "%1 = sum %0 {axes = [1], keepdims = true} : f32[N, 1]" in print_function(fn)


ODD_VALUES = [0, -7, 10**20, 0.1, -0.0, 1e-300, 2.5e300, math.inf, -math.inf, True, False,
              None, "", 'quote " and \\ backslash\nnewline', "ünïcödé ∑", (), (1, 2),
              ((1, 2.5), ("a", None)), [3, 4]]


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_attribute_values_round_trip(test_ops, value):
    fn = make_function("f", {"x": "f32[2]"}, lambda b, x: b.emit("test.attrs", x, a=value))
    text = print_function(fn)
    parsed = parse_function(text)
    assert print_function(parsed) == text
    got = parsed.nodes[0].attrs["a"]
    expected = tuple(value) if isinstance(value, list) else value
    assert got == expected and type(got) is type(expected)
    if isinstance(value, float):
        assert math.copysign(1, got) == math.copysign(1, value)


def test_nan_round_trips(test_ops):
    fn = make_function("f", {"x": "f32[2]"},
                       lambda b, x: b.emit("test.attrs", x, a=math.nan, b=-1.5))
    parsed = parse_function(print_function(fn))
    assert math.isnan(parsed.nodes[0].attrs["a"])
    assert print_function(parsed) == print_function(fn)


def test_multi_result_and_odd_names_round_trip(test_ops):
    fn = make_function("weird name", {'x "quoted"\n': "f32[B, 3]"},
                       lambda b, x: b.emit("test.split", x))
    fn.result_names = ["value", "index"]
    text = print_function(fn)
    assert text.splitlines()[0] == (
        'func @"weird name"(%0: f32[B, 3] "x \\"quoted\\"\\n") '
        '-> (f32[B, 3] "value", i32[B, 3] "index") {')
    assert "  %1, %2 = test.split %0 : f32[B, 3], i32[B, 3]" in text
    parsed = parse_function(text)
    assert parsed.name == "weird name" and parsed.arg_names == ['x "quoted"\n']
    assert parsed.result_names == ["value", "index"]
    assert print_function(parsed) == text


def test_unlocated_nodes_are_located_in_the_text():
    fn = parse_function(LINEAR_TEXT, source="linear.ir")
    assert fn.nodes[1].loc == Loc("linear.ir", 3, 3)
    verify_function(fn)


def test_several_functions_and_comments():
    text = LINEAR_TEXT + "\n// a comment\n" + LINEAR_TEXT.replace("@predict", "@again")
    module = parse_module(text)
    assert list(module.functions) == ["predict", "again"]


@pytest.mark.parametrize("text, line, message", [
    (LINEAR_TEXT.replace("%3 = matmul %0, %1 : f32[N, 1]", "%3 = matmul %0, %1 : f32[N, 2]"),
     2, "printed as `f32[N, 2]`, but its type is `f32[N, 1]`"),
    (LINEAR_TEXT.replace("add %3, %2", "add %9, %2"), 3, "`%9` is used before it is defined"),
    (LINEAR_TEXT.replace("matmul", "matmol"), 2, "unknown op `matmol`"),
    (LINEAR_TEXT.replace("%4 = add", "%3 = add"), 3, "`%3` is defined twice"),
    (LINEAR_TEXT.replace("f32[1] \"b\"", "f33[1] \"b\""), 1, "unknown element type `f33`"),
    (LINEAR_TEXT.replace("-> (f32[N, 1])", "-> (f32[N, 2])"), 1, "result declared `f32[N, 2]`"),
    (LINEAR_TEXT.replace("return %4", "return %4, %3"), 4, "`return` gives 2 values"),
    (LINEAR_TEXT.replace("%0, %1 :", "%0, %1 {bogus = 1} :"), 2, "no attribute bogus"),
    (LINEAR_TEXT.replace("%1: f32[2, 1]", "%1: f32[3, 1]"), 2, "matmul"),
    (LINEAR_TEXT.replace(" : f32[N, 1]\n  %4", " f32[N, 1]\n  %4"), 2, "expected `:`"),
    (LINEAR_TEXT.replace("}", ""), 6, "expected `}`, found end of input"),
    (LINEAR_TEXT + "?", 6, "unexpected character '?'"),
    (LINEAR_TEXT + LINEAR_TEXT, 6, "`@predict` is defined twice"),
])
def test_parse_errors_name_the_line(text, line, message):
    with pytest.raises(IRParseError) as error:
        parse_module(text)
    assert error.value.line == line
    assert message in str(error.value)
    assert isinstance(error.value, ValueError)


def test_parse_function_wants_exactly_one():
    with pytest.raises(IRParseError, match="expected one function, found 2"):
        parse_function(LINEAR_TEXT + LINEAR_TEXT.replace("@predict", "@other"))


def test_printer_marks_undefined_operands():
    fn = linear_predict()
    stranger = Function("g").add_arg(TensorType("f32", ("N", 1)), "z")
    fn.nodes[1] = Builder(fn, fn.nodes[1].loc).make_node("add", (fn.nodes[0].result,
                                                                 stranger), {})
    assert "add %3, %? :" in print_function(fn)


def test_symbolic_dims_that_are_not_identifiers_are_quoted():
    text = print_function(make_function("f", {"x": "f32[D/2, 3]"}, lambda b, x: b.neg(x)))
    assert '%0: f32["D/2", 3] "x"' in text
    assert parse_function(text).args[0].type == t("f32[D/2, 3]")


ROLES_TEXT = """\
func @eval_step(param %0: f32[2, 1] "W", input %1: f32[N, 2] "x", target %2: f32[N, 1] "y") -> (loss f32[] "loss") {
  %3 = matmul %1, %0 : f32[N, 1]
  %4 = sub %3, %2 : f32[N, 1]
  %5 = square %4 : f32[N, 1]
  %6 = mean %5 {axes = [0, 1], keepdims = false} : f32[]
  return %6
}
"""


def test_signature_roles_round_trip_and_group_values():
    fn = parse_function(ROLES_TEXT)
    assert print_function(fn) == ROLES_TEXT
    assert [a.role for a in fn.args] == ["param", "input", "target"]
    assert fn.result_roles == ["loss"]
    assert fn.group_args(["w", "x", "y"]) == {"param": ["w"], "input": ["x"], "target": ["y"]}
    assert fn.order_args(target=["y"], param=["w"], input=["x"]) == ["w", "x", "y"]
    with pytest.raises(ValueError, match="takes param `W`, input `x`, target `y`"):
        fn.order_args(param=["w"], input=["x"])


@pytest.mark.parametrize("text, message", [
    (ROLES_TEXT.replace("param %0", "weight %0"), "unknown role `weight`"),
    (ROLES_TEXT.replace("(loss f32[]", "(input f32[]"), "unknown role `input`"),
])
def test_unknown_roles_are_parse_errors(text, message):
    with pytest.raises(IRParseError, match=message):
        parse_function(text)


EXPRESSION_DIMS_TEXT = """\
func @flat(input %0: f32[B, H, W, 3] "x", input %1: f32[(H + 1) / 2 - 1] "y") -> (output f32[B, 3 * H * W] "flat", output f32[(H + 1) / 2 - 1] "z") {
  %2 = reshape %0 {shape = ["B", 3 * "H" * "W"]} : f32[B, 3 * H * W]
  %3 = neg %1 : f32[(H + 1) / 2 - 1]
  return %2, %3
}
"""


def test_expression_dims_round_trip_and_run():
    """Dims with arithmetic print and parse back, in types and in attributes; the
    parsed function runs through JAX at two sizes, its expression dims checked."""
    import numpy as np

    from dslc.compiler.backends.jax_lower import LoweringError, lower_function
    from dslc.compiler import dims

    fn = parse_function(EXPRESSION_DIMS_TEXT)
    assert print_function(fn) == EXPRESSION_DIMS_TEXT
    assert fn.args[1].type.shape == (dims.parse_dim("(H - 3) / 2 + 1"),)
    assert fn.symbols == ("B", "H", "W")
    verify_function(fn)
    lowered = lower_function(fn)
    for h, w in ((5, 4), (28, 7)):
        x = np.arange(2 * h * w * 3, dtype=np.float32).reshape(2, h, w, 3)
        y = np.ones((h - 3) // 2 + 1, np.float32)
        flat, z = lowered(x, y)
        np.testing.assert_array_equal(flat, x.reshape(2, -1))
        np.testing.assert_array_equal(z, -y)
    with pytest.raises(LoweringError, match="argument `y`"):
        lowered(np.zeros((2, 5, 4, 3), np.float32), np.zeros(3, np.float32))


@pytest.mark.parametrize("text, message", [
    ("f32[H +]", "expected a dimension"),
    ("f32[H / (W - W)]", "division by zero"),
])
def test_malformed_expression_dims(text, message):
    with pytest.raises(IRParseError, match=message):
        parse_function(f"func @f(%0: {text}) -> () {{\n  return\n}}\n")
