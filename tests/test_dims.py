"""The dims normal form (`compiler/dims.py`) against plain integer arithmetic: random
expression trees evaluated at random symbol values, equal expressions comparing equal,
and print -> parse round trips."""

from __future__ import annotations

import operator

import pytest
from hypothesis import given, settings, strategies as st

from dslc.compiler import dims

SYMBOLS = ("A", "B", "C")


def python_floordiv(a, b):
    return a // b


# A tree is an int, a symbol, or (op, left, right); divisors are nonzero ints or sums
# of symbols plus a positive int (symbols are sizes >= 1, so those are never zero).
leaves = st.one_of(st.integers(-6, 9), st.sampled_from(SYMBOLS))
positive_divisors = st.one_of(
    st.integers(1, 7),
    st.tuples(st.just("+"), st.sampled_from(SYMBOLS), st.integers(0, 3)),
    st.sampled_from(SYMBOLS))
divisors = st.one_of(positive_divisors, st.integers(-5, -1))


def extend(children):
    return st.one_of(
        st.tuples(st.sampled_from("+-*"), children, children),
        st.tuples(st.sampled_from(["/", "%"]), children, divisors))


trees = st.recursive(leaves, extend, max_leaves=10)
values = st.fixed_dictionaries({s: st.integers(1, 40) for s in SYMBOLS})

PYTHON = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": python_floordiv,
          "%": operator.mod}


def value_of(tree, env):
    if isinstance(tree, tuple):
        op, left, right = tree
        return PYTHON[op](value_of(left, env), value_of(right, env))
    return env[tree] if isinstance(tree, str) else tree


def dim_of(tree):
    if isinstance(tree, tuple):
        op, left, right = tree
        return dims.OPERATORS[op](dim_of(left), dim_of(right))
    return tree


@settings(max_examples=300, deadline=None)
@given(trees, values)
def test_normal_form_evaluates_like_integers(tree, env):
    assert dims.evaluate(dim_of(tree), env) == value_of(tree, env)


@settings(max_examples=300, deadline=None)
@given(trees, values)
def test_print_parse_round_trip(tree, env):
    dim = dim_of(tree)
    text = dims.format_dim(dim)
    assert dims.parse_dim(text) == dim
    # Printed with `//`, the same text is Python that computes the same size.
    assert eval(dims.format_dim(dim, divide="//"), {}, dict(env)) == value_of(tree, env)


@settings(max_examples=200, deadline=None)
@given(trees, trees, trees)
def test_algebraic_laws_give_equal_normal_forms(a, b, c):
    x, y, z = dim_of(a), dim_of(b), dim_of(c)
    assert dims.add(x, y) == dims.add(y, x)
    assert dims.mul(x, y) == dims.mul(y, x)
    assert dims.mul(x, dims.add(y, z)) == dims.add(dims.mul(x, y), dims.mul(x, z))
    assert dims.sub(dims.add(x, y), y) == x
    assert hash(dims.mul(dims.mul(x, y), z)) == hash(dims.mul(x, dims.mul(y, z)))
    # Multiples of the divisor leave a floor division exactly.
    assert dims.floordiv(dims.add(dims.mul(3, x), y), 3) == dims.add(x, dims.floordiv(y, 3))


@pytest.mark.parametrize("text, expected", [
    ("(H - 3) / 2 + 1", "(H + 1) / 2 - 1"),
    ("(H - 1) / 2", "(H + 1) / 2 - 1"),
    ("H * W * C", "C * H * W"),
    ("(2 * H + 2) / 4", "(H + 1) / 2"),
    ("2 * (H / 2)", "2 * (H / 2)"),
    ("W * H / W", "H"),
    ("H - H + 4", "4"),
    ("3 - H", "3 - H"),
    ("0 - H", "0 - H"),
    ("H / (W + 1)", "H / (W + 1)"),
    ("H / (2 * W)", "H / (2 * W)"),
    ("(H * W + 1) / W", "H + 1 / W"),
])
def test_simplified_and_printed(text, expected):
    dim = dims.parse_dim(text)
    assert dims.format_dim(dim) == expected
    assert dims.parse_dim(expected) == dim


def test_kinds_stay_plain():
    assert dims.mul("H", 1) == "H" and isinstance(dims.mul("H", 1), str)
    assert dims.sub("H", "H") == 0 and dims.is_concrete(dims.sub("H", "H"))
    assert dims.is_symbolic(dims.add("H", 1)) and not dims.is_concrete(dims.add("H", 1))
    assert not dims.is_concrete(True)
    assert dims.symbols_of(dims.parse_dim("H / (W + 1) + C")) == ("C", "H", "W")


def test_conv_output_size_on_ints_and_symbols():
    def out_size(size, window, stride, padding=0):
        return dims.add(dims.floordiv(dims.sub(dims.add(size, padding), window), stride), 1)
    assert out_size(28, 3, 2) == 13
    symbolic = out_size("H", 3, 2)
    assert dims.evaluate(symbolic, {"H": 28}) == 13
    assert symbolic == dims.parse_dim("(H - 3) / 2 + 1")


def test_bind_and_solve():
    env, bad = dims.bind([("N", 3), (dims.mul(2, "N"), 6)])
    assert env == {"N": 3} and bad is None
    assert dims.bind([("N", 3), (dims.mul(2, "N"), 7)])[1] == 1
    assert dims.bind([(dims.mul(2, "K"), 8)])[1] is not None  # K is never bound plainly
    assert dims.solve(dims.parse_dim("2 * K + 1"), 7, {}) == ("K", 3)
    assert dims.solve(dims.parse_dim("2 * K + 1"), 8, {}) is None
    assert dims.solve(dims.parse_dim("K * W"), "H", {"W": "W"}) is None
    assert dims.solve(dims.parse_dim("2 * K"), dims.parse_dim("2 * H * W"), {}) == (
        "K", dims.parse_dim("H * W"))


@pytest.mark.parametrize("text", ["H +", "(H", "H ) ", "3 $ H", ""])
def test_malformed_text(text):
    with pytest.raises(dims.DimError):
        dims.parse_dim(text)


def test_division_by_zero():
    with pytest.raises(dims.DimError):
        dims.floordiv("H", dims.sub("W", "W"))


def test_training_data_shape_problem():
    from dslc.compiler.training import shape_problem

    flat = ("N", dims.parse_dim("H * W"))
    assert shape_problem((8, 12), ("N", 12)) is None
    assert shape_problem((8, 11), ("N", 12)) == "dim 1 is 11, expected 12"
    assert shape_problem((8, 12, 3, 4), ("N", dims.parse_dim("H * W"), "H", "W")) is None
    assert shape_problem((8, 13, 3, 4), ("N", dims.parse_dim("H * W"), "H", "W")) == \
        "dim 1 is 13, expected 12 (`H * W`)"
    assert shape_problem((8, 12), flat) is None  # H and W unknown: the model's checks
    assert shape_problem((8,), flat) == "rank 1, expected rank 2"
