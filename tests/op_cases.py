"""The op test cases, as data: each op applied to operand types (dtype, shape with the
symbol `N`) and attributes, with the domain each operand is drawn from.

`GRADIENT_CASES` are the differentiable ops on floats (`test_ops_grad` checks their
rules there); `VALUE_CASES` add every other op and dtype (ints, bool, f32, the
non-differentiable ops); `CASES` is both, which `test_ops_backends` runs on every
backend against the NumPy reference. A new op needs a case here, or that test fails.
"""

from __future__ import annotations

import numpy as np

from dslc.compiler.builder import Builder
from dslc.compiler.ir import DTYPES, Function, Loc, TensorType

# Domains: what an operand's values are drawn from (see `random_input`).
REAL = "real"          # floats in [-2, 2); ints in [-9, 9]; bools at random
POSITIVE = "positive"  # floats in [0.5, 2); ints in [1, 9]
NONZERO = "nonzero"    # like REAL without 0 or values near it (divisors)
GRID = "grid"          # the integers -2..2 in the operand's dtype: ties and zeros
INDEX = "index"        # class indices -2..6, some outside `[0, depth)` on purpose
SEED = "seed"          # an `i32` seed in [0, 2**31)

SIZES_OF_N = (2, 5)    # the sizes the symbolic dim `N` is bound to at run time


class Case:
    """One op applied to operands of `shapes` (dims may be the symbol `N`), of
    `dtypes` (default f64) and drawn from `domains` (default REAL); `fd=False` when
    finite differences do not apply; the keyword arguments are the op's attributes."""

    def __init__(self, op, *shapes, domains=(), dtypes=(), fd=True, **attrs):
        self.op, self.shapes, self.attrs, self.fd = op, shapes, attrs, fd
        self.domains = domains or (REAL,) * len(shapes)
        self.dtypes = dtypes or ("f64",) * len(shapes)
        assert len(self.domains) == len(self.dtypes) == len(shapes), op

    @property
    def id(self):
        operands = ",".join(f"{d}[{'x'.join(map(str, s))}]"
                            for d, s in zip(self.dtypes, self.shapes))
        attrs = ",".join(f"{k}={v.name if isinstance(v, Function) else v}"
                         for k, v in sorted(self.attrs.items()))
        return f"{self.op}({operands}){attrs}"

    @property
    def types(self):
        return [TensorType(d, tuple(s)) for d, s in zip(self.dtypes, self.shapes)]

    @property
    def symbolic(self) -> bool:
        return any(isinstance(d, str) for s in self.shapes for d in s)


def concrete(shape, n):
    return tuple(n if d == "N" else d for d in shape)


def binary_cases(op, domains=(REAL, REAL), dtype="f64"):
    shape_pairs = [([3, 4], [4]), ([3, 1], [1, 4]), ([], [2, 3]), (["N", 1], [4])]
    return [Case(op, x, y, domains=domains, dtypes=(dtype, dtype)) for x, y in shape_pairs]


def unary_cases(op, domain=REAL, dtype="f64"):
    return [Case(op, shape, domains=(domain,), dtypes=(dtype,)) for shape in (["N", 3], [])]


def reduction_cases(op, dtype="f64"):
    one = dict(dtypes=(dtype,))
    return [Case(op, [3, 4], **one), Case(op, [3, 4], axes=(1,), keepdims=True, **one),
            Case(op, [2, 3, 4], axes=(-1, 0), **one), Case(op, ["N", 3], axes=(0,), **one),
            Case(op, ["N", 3], keepdims=True, **one)]


BINARY_OPS = ("add", "sub", "mul", "div", "pow", "maximum", "minimum")
BINARY_DOMAINS = {"div": (REAL, POSITIVE), "pow": (POSITIVE, REAL)}
UNARY_OPS = ("neg", "square", "abs", "relu", "tanh", "sigmoid", "exp", "expm1", "softplus",
             "erf", "erfc", "sqrt", "rsqrt", "log", "log1p", "sin", "cos")
UNARY_DOMAINS = {"sqrt": POSITIVE, "rsqrt": POSITIVE, "log": POSITIVE, "log1p": POSITIVE}
REDUCTIONS = ("sum", "mean", "max", "min")
COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge")


# Convolutions: strides with padding, 1-d, groups with kernel dilation, input dilation
# (a transposed convolution), 3-d, cropping (negative) padding, strides with dilation.
CONV_CASES = [
    Case("conv", ["N", 6, 5, 2], [3, 2, 2, 3], strides=(2, 1), padding=((1, 1), (0, 1))),
    Case("conv", [2, 7, 3], [3, 3, 4]),
    Case("conv", [1, 5, 5, 4], [2, 2, 2, 6], rhs_dilation=(2, 1), feature_group_count=2),
    Case("conv", [2, 3, 3, 2], [3, 3, 2, 2], lhs_dilation=(2, 2), padding=((2, 2), (1, 2))),
    Case("conv", [1, 4, 3, 3, 1], [2, 2, 2, 1, 2], strides=(1, 2, 1),
         padding=((0, 0), (1, 0), (0, 1))),
    Case("conv", [2, 6, 2], [2, 2, 3], strides=(2,), padding=((-1, 1),)),
    Case("conv", [1, 9, 9, 1], [2, 2, 1, 2], strides=(2, 2), rhs_dilation=(2, 2)),
]

# Pooling: padded windows, 1-d and 3-d, and ties (integer-valued inputs), where the
# max's cotangent goes to the first maximum (finite differences do not apply there).
POOL_CASES = [
    *[case for op in ("max_pool", "avg_pool") for case in (
        Case(op, ["N", 5, 4, 2], window=(2, 3), strides=(2, 1), padding=((0, 1), (1, 1))),
        Case(op, [2, 6, 3], window=(3,), strides=(2,)),
        Case(op, [1, 3, 4, 4, 1], window=(2, 2, 2), strides=(1, 2, 2),
             padding=((0, 1), (0, 0), (1, 0))))],
    Case("max_pool", [2, 4, 4, 3], window=(2, 2), strides=(1, 1), domains=(GRID,), fd=False),
    Case("max_pool", [1, 5, 5, 1], window=(3, 3), strides=(2, 2), padding=((1, 1), (1, 1)),
         domains=(GRID,), fd=False),
]

def region(name, types, build):
    """A body function `name(args of types) -> build(b, *args)` (a value or a tuple), for
    an op that holds a region."""
    function = Function(name, loc=Loc("op_cases.py", 1, 1))
    args = [function.add_arg(TensorType(d, tuple(s)), f"a{i}") for i, (d, s) in enumerate(types)]
    out = build(Builder(function, function.loc), *args)
    function.results = list(out) if isinstance(out, tuple) else [out]
    return function


def _elman(b, w, h, x):
    new = b.tanh(b.add(b.matmul(h, w), x))
    return new, b.mul(new, b.const(2.0, "f64"))


def _two_carries(b, a, c, u, v):
    new_a = b.add(b.mul(a, u), c)
    new_c = b.add(c, b.mul(b.sigmoid(a), v))
    return new_a, new_c, b.sub(new_a, new_c), b.square(u)


def _count(b, n, total, x):
    return b.add(n, b.const(1, "i32")), b.add(total, b.mul(x, b.convert(n, dtype="f64"))), n


# Scans: an Elman cell over a symbolic batch (a constant, one carry, one output); two
# carries and two scanned operands in reverse; an integer carry (a step counter) beside
# a float one, with an integer output; and a carry alone, like a fold.
SCAN_CASES = [
    Case("scan", [3, 3], ["N", 3], [4, "N", 3], num_consts=1, num_carry=1,
         body=region("elman", [("f64", [3, 3]), ("f64", ["N", 3]), ("f64", ["N", 3])], _elman)),
    Case("scan", [2], [2], [5, 2], [5, 1], num_carry=2, reverse=True,
         body=region("two_carries", [("f64", [2]), ("f64", [2]), ("f64", [2]), ("f64", [1])],
                     _two_carries)),
    Case("scan", [], [3], ["N", 3], num_carry=2, dtypes=("i32", "f64", "f64"),
         body=region("count", [("i32", []), ("f64", [3]), ("f64", [3])], _count)),
    Case("scan", [3], ["N", 3], num_carry=1,
         body=region("fold", [("f64", [3]), ("f64", [3])],
                     lambda b, c, x: b.mul(c, b.tanh(x)))),
]

GRADIENT_CASES = [
    *[case for op in BINARY_OPS
      for case in binary_cases(op, BINARY_DOMAINS.get(op, (REAL, REAL)))],
    *[case for op in UNARY_OPS for case in unary_cases(op, UNARY_DOMAINS.get(op, REAL))],
    *[Case("matmul", x, y) for x, y in [
        ([3, 4], [4, 2]), ([4], [4]), ([3, 4], [4]), ([4], [4, 2]), ([2, 3, 4], [4, 5]),
        ([2, 1, 3, 4], [3, 4, 2]), ([3, 4], [2, 4, 5]), ([4], [2, 4, 3]),
        (["N", 4], [4, 2]), (["N", 3, 4], ["N", 4, 2])]],
    Case("transpose", [2, 3, 4], perm=(2, 0, 1)), Case("transpose", ["N", 3]),
    Case("reshape", [2, 6], shape=(3, 4)), Case("reshape", ["N", 6], shape=("N", 2, 3)),
    Case("reshape", [2, 3, 4], shape=(-1, 4)), Case("reshape", ["N", 2, 3], shape=(-1, 6)),
    Case("broadcast", [3], shape=(2, 3)), Case("broadcast", [3, 1], shape=(2, 3, 4)),
    Case("broadcast", [4], shape=("N", 4)), Case("broadcast", ["N", 1], shape=("N", 3)),
    *[case for op in REDUCTIONS for case in reduction_cases(op)],
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
    Case("reverse", [2, 3, 4], axes=(0, 2)), Case("reverse", ["N", 3]),
    *CONV_CASES, *POOL_CASES, *SCAN_CASES,
]

F32, I32 = ("f32",), ("i32",)

VALUE_CASES = [
    # The float ops again in f32, the dtype models run in.
    *[case for op in BINARY_OPS
      for case in binary_cases(op, BINARY_DOMAINS.get(op, (REAL, REAL)), "f32")[1::2]],
    *[case for op in UNARY_OPS
      for case in unary_cases(op, UNARY_DOMAINS.get(op, REAL), "f32")[:1]],
    *[case for op in REDUCTIONS for case in reduction_cases(op, "f32")[::2]],
    Case("matmul", ["N", 3, 4], [4, 2], dtypes=F32 * 2),
    Case("matmul", [2, 1, 3, 4], [3, 4, 2], dtypes=F32 * 2),

    # Integers: arithmetic, integer division rounding toward zero, products, reductions.
    *[Case(op, ["N", 1], [4], dtypes=I32 * 2) for op in ("add", "sub", "mul", "maximum",
                                                          "minimum")],
    Case("div", [3, 4], [3, 4], dtypes=I32 * 2, domains=(REAL, NONZERO)),
    Case("div", ["N", 4], [4], dtypes=I32 * 2, domains=(REAL, NONZERO)),
    *[Case(op, ["N", 3], dtypes=I32, domains=(GRID,))
      for op in ("neg", "square", "abs", "relu", "sign")],
    Case("matmul", [3, 4], [4, 2], dtypes=I32 * 2),
    Case("matmul", ["N", 3, 4], [4], dtypes=I32 * 2),
    *[Case(op, ["N", 3], axes=(0,), dtypes=I32) for op in ("sum", "max", "min")],
    *[Case(op, [2, 3, 4], axes=(-1, 0), keepdims=True, dtypes=I32)
      for op in ("sum", "max", "min")],

    # Non-differentiable elementwise ops.
    Case("sign", ["N", 3], dtypes=F32, domains=(GRID,)),
    Case("sign", [4], dtypes=("f64",), domains=(GRID,)),
    Case("floor", ["N", 3], dtypes=F32),
    Case("stop_gradient", ["N", 3], dtypes=F32),
    Case("stop_gradient", [2, 2], dtypes=I32),

    # Comparisons, on values with ties, broadcasting.
    *[Case(op, ["N", 4], [4], dtypes=F32 * 2, domains=(GRID, GRID)) for op in COMPARISONS],
    *[Case(op, [3, 1], [1, 4], dtypes=I32 * 2, domains=(GRID, GRID)) for op in COMPARISONS],
    Case("eq", [5], [5], dtypes=("bool", "bool")),
    Case("ne", [], [3], dtypes=("bool", "bool")),
    Case("select", ["N", 1], [1, 3], ["N", 3], dtypes=("bool", "i32", "i32")),
    Case("select", [4], [4], [], dtypes=("bool", "bool", "bool")),

    # argmax: the first maximum; ints have ties.
    Case("argmax", ["N", 5], dtypes=F32),
    Case("argmax", ["N", 5], axis=0, dtypes=F32),
    Case("argmax", [3, 5], axis=1, dtypes=I32, domains=(GRID,)),
    Case("argmax", ["N", 3, 4], axis=1, keepdims=True, dtypes=("f64",)),

    # Conversions between floats, ints and bool (float -> int truncates toward zero).
    *[Case("convert", ["N", 3], dtypes=(source,), domains=(GRID if target == "bool" else REAL,),
           dtype=target)
      for source, target in [("f32", "i32"), ("i32", "f32"), ("f32", "bool"),
                             ("bool", "f32"), ("i32", "bool"), ("bool", "i32"),
                             ("f64", "f32"), ("f64", "i32")]],

    # Layout ops on ints and bools.
    Case("transpose", [2, 3, 4], perm=(1, 2, 0), dtypes=I32),
    Case("reshape", ["N", 6], shape=("N", 3, 2), dtypes=("bool",)),
    Case("broadcast", ["N", 1], shape=(2, "N", 3), dtypes=I32),
    Case("concat", [2], [3], axis=0, dtypes=("bool", "bool")),
    Case("slice", ["N", 6], start=(0, 1), limit=("N", 6), stride=(1, 2), dtypes=I32),
    Case("pad", ["N", 3], low=(0, 1), high=(0, 2), interior=(0, 1), dtypes=I32),
    Case("reverse", ["N", 2, 3], axes=(1,), dtypes=I32),

    # Convolution and pooling in f32.
    Case("conv", ["N", 6, 6, 3], [3, 3, 3, 4], strides=(2, 2), padding=((0, 1), (0, 1)),
         dtypes=F32 * 2),
    Case("conv", ["N", 3, 3, 4], [3, 3, 2, 4], lhs_dilation=(2, 2), padding=((2, 2), (2, 2)),
         feature_group_count=2, dtypes=F32 * 2),
    Case("max_pool", ["N", 5, 5, 3], window=(2, 2), strides=(2, 2), padding=((0, 1), (0, 1)),
         dtypes=F32),
    Case("scan", [3], ["N", 3], num_carry=1, dtypes=F32 * 2,
         body=region("fold_f32", [("f32", [3]), ("f32", [3])], lambda b, c, x: b.add(c, x))),
    Case("avg_pool", ["N", 5, 5, 3], window=(2, 2), strides=(2, 2), padding=((0, 1), (0, 1)),
         dtypes=F32),

    # Creation: no operands, or only an operand's shape or integer contents.
    Case("constant", value=1.5, dtype="f32", shape=(2, 3)),
    Case("constant", value=-2.5, dtype="f64", shape=(4,)),
    Case("constant", value=7, dtype="i32", shape=()),
    Case("constant", value=True, dtype="bool", shape=(3, 1)),
    Case("size", ["N", 3], dtypes=F32),
    Case("size", ["N", 3, 2], axes=(0, 2), dtype="i32", dtypes=F32),
    Case("size", [4, 5], axes=(1,), dtype="f64", dtypes=I32),
    Case("one_hot", ["N"], depth=4, dtypes=I32, domains=(INDEX,)),
    Case("iota", shape=(3, 4), axis=0),
    Case("iota", shape=(2, 3, 4), axis=-1, dtype="f32"),
    Case("iota", shape=(5,), axis=0, dtype="f64"),
    Case("one_hot", [2, 3], depth=5, dtype="i32", dtypes=I32, domains=(INDEX,)),
    Case("one_hot", ["N", 2], depth=3, dtype="f64", dtypes=I32, domains=(INDEX,)),

    # Random draws from an i32 seed.
    Case("random_uniform", [], shape=(3, 4), dtypes=I32, domains=(SEED,)),
    Case("random_uniform", [], shape=(1000,), low=-1.0, high=3.0, stream=2, dtypes=I32,
         domains=(SEED,)),
    Case("random_uniform", [], shape=(2, 5), dtype="f64", stream=7, dtypes=I32,
         domains=(SEED,)),
    Case("random_normal", [], shape=(4, 3), dtypes=I32, domains=(SEED,)),
    Case("random_normal", [], shape=(1000,), mean=1.0, stddev=0.5, stream=1, dtypes=I32,
         domains=(SEED,)),
    Case("random_normal", [], shape=(2, 2, 2), dtype="f64", dtypes=I32, domains=(SEED,)),
    Case("truncated_normal", [], shape=(1000,), dtypes=I32, domains=(SEED,)),
    Case("truncated_normal", [], shape=(3, 4), mean=-1.0, stddev=0.05, stream=3,
         dtype="f64", dtypes=I32, domains=(SEED,)),

    # QR of tall, wide and batched matrices (nondiff: `init` only).
    Case("qr", [5, 3]),
    Case("qr", [3, 5], dtypes=("f32",)),
    Case("qr", ["N", 4, 4], dtypes=("f32",)),
]

CASES = GRADIENT_CASES + VALUE_CASES


def random_input(rng, type_, shape, domain):
    """An operand of `type_`'s dtype and the concrete `shape`, drawn from `domain`."""
    dtype = np.dtype(DTYPES[type_.dtype])
    if type_.dtype == "bool":
        return rng.random(shape) > 0.5
    if domain == GRID:
        return rng.integers(-2, 3, shape).astype(dtype)
    if domain == INDEX:
        return rng.integers(-2, 7, shape).astype(dtype)
    if domain == SEED:
        return rng.integers(0, 2**31, shape).astype(dtype)
    if domain == REAL:
        values = (rng.uniform(-2.0, 2.0, shape) if type_.is_float
                  else rng.integers(-9, 10, shape))
        return values.astype(dtype)
    magnitude = rng.uniform(0.5, 2.0, shape) if type_.is_float else rng.integers(1, 10, shape)
    if domain == NONZERO:
        magnitude = magnitude * rng.choice([-1, 1], shape)
    return magnitude.astype(dtype)
