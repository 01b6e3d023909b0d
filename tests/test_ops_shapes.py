"""Shape and dtype rules: result types, normalized attributes, and every error code
with its exact message and the operand it blames."""

from __future__ import annotations

import pytest

from dslc.compiler import dims
from dslc.compiler.builder import Builder
from dslc.compiler.ir import UNKNOWN_LOC, Function, TensorType
from dslc.compiler.ops.registry import ShapeError, get


def ty(text: str) -> TensorType:
    """`"f32[N, H * W]"` -> TensorType("f32", ("N", <H * W>))."""
    dtype, text_dims = text.rstrip("]").split("[")
    return TensorType(dtype, tuple(dims.parse_dim(d) for d in text_dims.split(",")
                                   if d.strip()))


def infer(name, *types, **attrs):
    op = get(name)
    bound = op.bind_attrs(attrs)
    (result,) = op.result_types(bound, [ty(t) for t in types])
    return str(result), bound


RESULTS = [
    ("add", ["f32[N, 3]", "f32[3]"], {}, "f32[N, 3]"),
    ("mul", ["f32[3, 1]", "f32[1, 4]"], {}, "f32[3, 4]"),
    ("sub", ["f32[]", "f32[N, 1]"], {}, "f32[N, 1]"),
    ("maximum", ["i32[N, 1]", "i32[1, M]"], {}, "i32[N, M]"),
    ("exp", ["f32[N, 4]"], {}, "f32[N, 4]"),
    ("neg", ["i32[3]"], {}, "i32[3]"),
    ("matmul", ["f32[N, 2]", "f32[2, 1]"], {}, "f32[N, 1]"),
    ("matmul", ["f32[3]", "f32[3]"], {}, "f32[]"),
    ("matmul", ["f32[N, 3]", "f32[3]"], {}, "f32[N]"),
    ("matmul", ["f32[3]", "f32[B, 3, 4]"], {}, "f32[B, 4]"),
    ("matmul", ["f32[2, 1, 5, 3]", "f32[7, 3, 4]"], {}, "f32[2, 7, 5, 4]"),
    ("transpose", ["f32[N, 3, 4]"], {"perm": (2, 0, 1)}, "f32[4, N, 3]"),
    ("transpose", ["f32[N, 3]"], {}, "f32[3, N]"),
    ("reshape", ["f32[B, 28, 28]"], {"shape": ("B", -1)}, "f32[B, 784]"),
    ("reshape", ["f32[B, 6]"], {"shape": (-1, 2, 3)}, "f32[B, 2, 3]"),
    ("reshape", ["f32[2, 6]"], {"shape": [3, 4]}, "f32[3, 4]"),
    ("reshape", ["f32[B, H, W, C]"], {"shape": ("B", dims.parse_dim("H * W * C"))},
     "f32[B, C * H * W]"),
    ("reshape", ["f32[B, H, W, 3]"], {"shape": ("B", -1)}, "f32[B, 3 * H * W]"),
    ("reshape", ["f32[B, 3 * H * W]"], {"shape": ("B", "H", -1, 3)}, "f32[B, H, W, 3]"),
    ("add", ["f32[B, H * W]", "f32[W * H]"], {}, "f32[B, H * W]"),
    ("add", ["f32[(H - 3) / 2 + 1]", "f32[(H - 1) / 2]"], {}, "f32[(H + 1) / 2 - 1]"),
    ("broadcast", ["f32[3, 1]"], {"shape": ("N", 3, 4)}, "f32[N, 3, 4]"),
    ("sum", ["f32[N, 3]"], {}, "f32[]"),
    ("mean", ["f32[N, 3, 4]"], {"axes": (-1, 0), "keepdims": True}, "f32[1, 3, 1]"),
    ("max", ["f32[N, 3]"], {"axes": [1]}, "f32[N]"),
    ("argmax", ["f32[N, 10]"], {}, "i32[N]"),
    ("argmax", ["f32[N, 10]"], {"axis": 0, "keepdims": True}, "i32[1, 10]"),
    ("concat", ["f32[N, 3]", "f32[N, 4]"], {"axis": -1}, "f32[N, 7]"),
    ("concat", ["f32[N, 3]"], {"axis": 0}, "f32[N, 3]"),
    ("slice", ["f32[N, 6]"], {"start": (0, 1), "limit": ("N", 6), "stride": (1, 2)},
     "f32[N, 3]"),
    ("slice", ["f32[5]"], {"start": (1,), "limit": (5,), "stride": (3,)}, "f32[2]"),
    ("pad", ["f32[3, N]"], {"low": (1, 0), "high": (2, 0), "interior": (1, 0)}, "f32[8, N]"),
    ("pad", ["f32[N]"], {"low": (1,), "high": ("N",), "interior": (1,)}, "f32[3 * N]"),
    ("slice", ["f32[N]"], {"start": (1,), "limit": ("N",), "stride": (2,)}, "f32[N / 2]"),
    ("eq", ["f32[N, 1]", "f32[3]"], {}, "bool[N, 3]"),
    ("select", ["bool[N, 1]", "f32[3]", "f32[]"], {}, "f32[N, 3]"),
    ("convert", ["i32[N]"], {"dtype": "f32"}, "f32[N]"),
    ("constant", [], {"value": 0.0, "shape": ("N", 2)}, "f32[N, 2]"),
    ("size", ["f32[N, 3]"], {"axes": (0,)}, "f32[]"),
    ("one_hot", ["i32[N]"], {"depth": 10}, "f32[N, 10]"),
    ("random_uniform", ["i32[]"], {"shape": (2, 3)}, "f32[2, 3]"),
    ("random_uniform", ["i32[]"], {"shape": ("N", 3)}, "f32[N, 3]"),
    ("truncated_normal", ["i32[]"], {"shape": [4], "dtype": "f64"}, "f64[4]"),
]


@pytest.mark.parametrize("name, types, attrs, expected", RESULTS)
def test_result_type(name, types, attrs, expected):
    assert infer(name, *types, **attrs)[0] == expected


@pytest.mark.parametrize("name, types, attrs, key, stored", [
    ("sum", ["f32[N, 3, 4]"], {"axes": (-1, 0)}, "axes", (0, 2)),
    ("mean", ["f32[N, 3]"], {}, "axes", (0, 1)),
    ("argmax", ["f32[N, 3]"], {}, "axis", 1),
    ("transpose", ["f32[N, 3, 2]"], {}, "perm", (2, 1, 0)),
    ("reshape", ["f32[B, 28, 28]"], {"shape": ["B", -1]}, "shape", ("B", 784)),
    ("concat", ["f32[2]", "f32[3]"], {"axis": -1}, "axis", 0),
    ("slice", ["f32[4, 4]"], {"start": (0, 1), "limit": (4, 3)}, "stride", (1, 1)),
])
def test_rules_store_normalized_attributes(name, types, attrs, key, stored):
    assert infer(name, *types, **attrs)[1][key] == stored


ERRORS = [
    ("add", ["f32[N, 3]", "f32[4]"], {}, "E0202", 1,
     "shapes `[N, 3]` and `[4]` cannot be broadcast together"),
    ("add", ["f32[N, 3]", "f32[M, 3]"], {}, "E0202", 1,
     "shapes `[N, 3]` and `[M, 3]` cannot be broadcast together"),
    ("mul", ["f32[N]", "f32[3]"], {}, "E0202", 1,
     "shapes `[N]` and `[3]` cannot be broadcast together"),
    ("select", ["bool[2]", "f32[3]", "f32[3]"], {}, "E0202", 1,
     "shapes `[2]` and `[3]` cannot be broadcast together"),
    ("broadcast", ["f32[N, 3]"], {"shape": ("N", 4)}, "E0202", 0,
     "shapes `[N, 3]` and `[N, 4]` cannot be broadcast together"),
    ("matmul", ["f32[N, 3]", "f32[2, 1]"], {}, "E0203", 1,
     "`matmul` inner dimensions differ: `[N, 3]` and `[2, 1]`"),
    ("matmul", ["f32[3]", "f32[4]"], {}, "E0203", 1,
     "`matmul` inner dimensions differ: `[3]` and `[4]`"),
    ("matmul", ["f32[2, 3, 4]", "f32[5, 4, 1]"], {}, "E0202", 1,
     "shapes `[2]` and `[5]` cannot be broadcast together"),
    ("matmul", ["f32[]", "f32[3]"], {}, "E0204", 0,
     "`matmul` needs operands of rank at least 1, got `f32[]`"),
    ("broadcast", ["f32[N, 3]"], {"shape": (3,)}, "E0204", 0,
     "`broadcast` cannot lower the rank of `f32[N, 3]` to `[3]`"),
    ("concat", ["f32[N, 3]", "f32[3]"], {"axis": 0}, "E0204", 1,
     "`concat` operands have different ranks: `f32[N, 3]` and `f32[3]`"),
    ("concat", ["f32[N, 3]", "f32[M, 4]"], {"axis": 1}, "E0202", 1,
     "`concat` operands differ outside axis 1: `f32[N, 3]` and `f32[M, 4]`"),
    ("concat", [], {"axis": 0}, "E0204", None, "`concat` needs at least one operand"),
    ("slice", ["f32[N, 3]"], {"start": (0,), "limit": (3,)}, "E0204", 0,
     "`slice` of `f32[N, 3]` needs 2 start, limit and stride values, got 1, 1 and 2"),
    ("random_normal", ["i32[2]"], {"shape": (2,)}, "E0204", 0,
     "`random_normal` needs a seed of rank 0, got `i32[2]`"),
    ("sum", ["f32[N, 3]"], {"axes": (2,)}, "E0208", 0,
     "`sum` axis `2` is out of range for `f32[N, 3]`"),
    ("sum", ["f32[N, 3]"], {"axes": (1, -1)}, "E0208", 0,
     "`sum` axes `(1, -1)` repeat an axis of `f32[N, 3]`"),
    ("argmax", ["f32[N, 3]"], {"axis": -3}, "E0208", 0,
     "`argmax` axis `-3` is out of range for `f32[N, 3]`"),
    ("concat", ["f32[3]", "f32[3]"], {"axis": 1}, "E0208", 0,
     "`concat` axis `1` is out of range for `f32[3]`"),
    ("transpose", ["f32[N, 3]"], {"perm": (0, 0)}, "E0208", 0,
     "`transpose` permutation `[0, 0]` does not permute the axes of `f32[N, 3]`"),
    ("slice", ["f32[4]"], {"start": (1,), "limit": (5,)}, "E0208", 0,
     "`slice` `1:5:1` is out of range for axis 0 of `f32[4]`"),
    ("slice", ["f32[N]"], {"start": (1,), "limit": (3,)}, "E0208", 0,
     "`slice` `1:3:1` is out of range for axis 0 of `f32[N]`"),
    ("add", ["f32[N]", "i32[N]"], {}, "E0209", 1,
     "`add` operands have different dtypes: `f32` and `i32`"),
    ("select", ["bool[N]", "f32[N]", "f64[N]"], {}, "E0209", 2,
     "`select` operands have different dtypes: `f32` and `f64`"),
    ("select", ["f32[N]", "f32[N]", "f32[N]"], {}, "E0209", 0,
     "`select` condition must have dtype `bool`, got `f32[N]`"),
    ("exp", ["i32[N]"], {}, "E0209", 0, "`exp` needs a float operand, got `i32[N]`"),
    ("pow", ["i32[N]", "i32[N]"], {}, "E0209", 0, "`pow` needs a float operand, got `i32[N]`"),
    ("mean", ["i32[N]"], {}, "E0209", 0, "`mean` needs a float operand, got `i32[N]`"),
    ("neg", ["bool[N]"], {}, "E0209", 0, "`neg` needs a numeric operand, got `bool[N]`"),
    ("one_hot", ["f32[N]"], {"depth": 3}, "E0209", 0,
     "`one_hot` indices must have dtype `i32`, `i64`, `i8`, `u8`, got `f32[N]`"),
    ("random_uniform", ["f32[]"], {"shape": (2,)}, "E0209", 0,
     "`random_uniform` seed must have dtype `i32`, `i64`, `i8`, `u8`, got `f32[]`"),
    ("random_uniform", ["i32[]"], {"shape": (2,), "dtype": "i32"}, "E0209", 0,
     "`random_uniform` result must have dtype `bf16`, `f16`, `f32`, `f64`, got `i32[]`"),
    ("convert", ["f32[N]"], {"dtype": "float32"}, "E0201", None,
     "`convert` has unknown dtype `float32`"),
    ("reshape", ["f32[B, 6]"], {"shape": ("B", 4)}, "E0210", 0,
     "cannot reshape `[B, 6]` to `[B, 4]`: element counts differ (`6 * B` and `4 * B`)"),
    ("reshape", ["f32[N, 3]"], {"shape": ("M", 3)}, "E0210", 0,
     "cannot reshape `[N, 3]` to `[M, 3]`: element counts differ (`3 * N` and `3 * M`)"),
    ("reshape", ["f32[B, H, W]"], {"shape": ("B", "H")}, "E0210", 0,
     "cannot reshape `[B, H, W]` to `[B, H]`: element counts differ (`B * H * W` and "
     "`B * H`)"),
    ("reshape", ["f32[B, H, W]"], {"shape": ("B", "C", -1)}, "E0210", 0,
     "cannot reshape `[B, H, W]` to `[B, C, -1]`: `-1` cannot be inferred"),
    ("add", ["f32[H * W]", "f32[H + W]"], {}, "E0202", 1,
     "shapes `[H * W]` and `[H + W]` cannot be broadcast together"),
    ("reshape", ["f32[B, 6]"], {"shape": (-1, 4)}, "E0210", 0,
     "cannot reshape `[B, 6]` to `[-1, 4]`: `-1` cannot be inferred"),
    ("reshape", ["f32[6]"], {"shape": (-1, -1)}, "E0210", None,
     "`reshape` shape `[-1, -1]` has more than one `-1`"),
    ("reshape", ["f32[6]"], {"shape": (-2, -3)}, "E0210", None,
     "`reshape` shape `[-2, -3]` has an invalid dimension `-2`"),
    ("concat", ["f32[N]", "f32[3]"], {"axis": 0}, "E0207", None,
     "`concat` along axis 0 needs integer sizes, got `f32[N]`, `f32[3]`"),
    ("random_uniform", ["i32[]"], {"shape": (-1, 2)}, "E0304", None,
     "`random_uniform` has a negative dimension in `[-1, 2]`"),
    ("constant", [], {"value": 1, "shape": (2, -1)}, "E0304", None,
     "`constant` shape `[2, -1]` has an invalid dimension `-1`"),
    ("one_hot", ["i32[N]"], {"depth": 0}, "E0304", None,
     "`one_hot` depth must be a positive integer, got `0`"),
    ("pad", ["f32[3]"], {"low": (-1,), "high": (0,)}, "E0304", 0,
     "`pad` `(-1, 0, 0)` is invalid for axis 0 of `f32[3]`"),
]


@pytest.mark.parametrize("name, types, attrs, code, operand, message", ERRORS,
                         ids=[f"{e[3]}-{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_shape_error(name, types, attrs, code, operand, message):
    with pytest.raises(ShapeError) as caught:
        infer(name, *types, **attrs)
    error = caught.value
    assert (error.code, error.message, error.operand) == (code, message, operand)


def test_error_codes_have_explanations():
    from dslc.dsl.codes import CODES

    assert {code for *_, code, _, _ in ERRORS} <= set(CODES)


def test_broadcast_error_explains_symbol_rule():
    with pytest.raises(ShapeError) as caught:
        infer("add", "f32[N]", "f32[M]")
    assert caught.value.label == "in this `add`"
    assert "symbolic dimension only matches the same symbol" in caught.value.help


def test_builder_reports_shape_errors_of_unlocated_nodes():
    function = Function("f")
    x = function.add_arg(ty("f32[N, 3]"), "x")
    w = function.add_arg(ty("f32[2, 1]"), "w")
    with pytest.raises(ShapeError, match="`matmul` inner dimensions differ"):
        Builder(function, UNKNOWN_LOC).matmul(x, w)
