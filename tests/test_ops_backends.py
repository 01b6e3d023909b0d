"""Every op runs on every backend and agrees with the NumPy reference.

For each case of `op_cases` (so every registered op) a one-op IR function is run by
the reference (`numpy_ref.evaluate`) and by each backend: the JAX lowering under
`jax.jit`; the emitted TF source inside one `tf.function(jit_compile=True)` whose input
signature leaves symbolic dims `None`, as the emitted modules do, so that one trace
serves both sizes of `N` (its static result shapes are the IR's, symbols unknown); the
emitted torch source eagerly, and a few cases under `torch.compile(fullgraph=True,
dynamic=True)`, which must not compile again for the second size. Each result has the
IR dtype and shape and the reference's values (exact for ints, bools and uniform
bits). Every op must have a case, and every trait an op declares is checked, on the
reference, as the law `registry.TRAITS` states. A property test then draws shapes,
broadcasting pairs, axes and `keepdims` at random for the elementwise, comparison and
reduction families, and checks each backend, run eagerly, the same way.
"""

from __future__ import annotations

import functools
import re
import zlib

import jax
import numpy as np
import pytest
import tensorflow as tf
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch._dynamo.testing import CompileCounterWithBackend

from dslc.compiler.backends import numpy_ref
from dslc.compiler.backends.jax_lower import lower_function
from dslc.compiler.backends.python_source import function_source
from dslc.compiler.backends.tf_source import TF
from dslc.compiler.backends.torch_source import TORCH
from dslc.compiler.builder import Builder
from dslc.compiler.ir import DTYPES, UNKNOWN_LOC, Function, TensorType
from dslc.compiler.ops.registry import all_ops
from op_cases import CASES, SIZES_OF_N, concrete, random_input


pytestmark = pytest.mark.usefixtures("jax_float64")


CASE_BY_ID = {case.id: case for case in CASES}
OP_NAMES = sorted(all_ops())

# (rtol, atol) for float results. f32 allows a few ulps of transcendental functions
# computed differently by each framework; f64 is held closer.
TOLERANCES = {"f32": (1e-5, 1e-6), "f64": (1e-10, 1e-12)}
# Random draws are the same bits on every backend (threefry.py): the generator is
# integer code, and the float transforms use only operations rounded exactly once.

# Where torch.compile could specialize or break: broadcasting with a symbolic dim, a
# product, a reduction, a choice with a 0-d operand, the counter-based generator, a
# convolution, a padded average pooling (its padded mean of ones) and a loop (unrolled).
# `aot_eager` traces as inductor does, without inductor's slow code generation.
TORCH_COMPILED_OPS = ("add", "matmul", "sum", "select", "random_uniform", "conv", "avg_pool",
                      "scan")


def test_case_ids_are_distinct():
    assert len(CASE_BY_ID) == len(CASES), "two cases in op_cases.py have the same id"


@pytest.mark.parametrize("name", OP_NAMES)
def test_op_has_a_case(name):
    assert any(case.op == name for case in CASES), (
        f"`{name}` has no case in tests/op_cases.py, so no backend test runs it")


# Running one case

def one_op_function(op, types, attrs) -> Function:
    """`(operands...) -> results` of `op` on operands of `types`, as IR."""
    function = Function(op)
    args = [function.add_arg(t, f"x{i}") for i, t in enumerate(types)]
    out = Builder(function, UNKNOWN_LOC).emit(op, *args, **attrs)
    function.results = list(out) if isinstance(out, tuple) else [out]
    return function


def case_function(case) -> Function:
    """The case's one-op function. A symbol that only the attributes name (`broadcast`
    to `[N, 4]`) is bound, as in a real program, by another argument: an unused `f32[N]`."""
    function = one_op_function(case.op, case.types, case.attrs)
    bound = set(function.symbols)
    for result in function.results:
        for symbol in result.type.symbols:
            if symbol not in bound:
                bound.add(symbol)
                function.add_arg(TensorType("f32", (symbol,)), f"{symbol}_size")
    return function


def case_inputs(case, n):
    """The case's operands at `N = n` (the same on every backend and in every run), and
    zeros for the arguments that only bind a symbol."""
    rng = np.random.default_rng(zlib.crc32(f"{case.id}/{n}".encode()))
    operands = [random_input(rng, t, concrete(t.shape, n), d)
                for t, d in zip(case.types, case.domains)]
    binders = [np.zeros(concrete(arg.type.shape, n), np.float32)
               for arg in case_function(case).args[len(operands):]]
    return [np.asarray(x) for x in operands + binders]


def sizes(function):
    return SIZES_OF_N if function.symbols else (None,)


def dtype_name(dtype) -> str:
    names = {np.dtype(v): k for k, v in DTYPES.items() if k != "bf16"}
    return names.get(np.dtype(dtype), str(dtype))


def assert_matches_reference(op, got, want, type_, where):
    got = np.asarray(got)
    assert dtype_name(got.dtype) == type_.dtype, (
        f"{where}: dtype `{dtype_name(got.dtype)}`, the IR says `{type_.dtype}`")
    assert got.shape == want.shape, f"{where}: shape {got.shape}, reference {want.shape}"
    if "random" in all_ops()[op].traits or not type_.is_float:
        np.testing.assert_array_equal(got, want, err_msg=where)
        return
    rtol, atol = TOLERANCES[type_.dtype]
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=where)


@functools.cache
def reference(case_id, n):
    case = CASE_BY_ID[case_id]
    return numpy_ref.evaluate(case_function(case), *case_inputs(case, n))


def check_backend(case, run, backend):
    """`run(inputs) -> results` at every size of `N`, against the reference."""
    function = case_function(case)
    for n in sizes(function):
        want = reference(case.id, n)
        got = run(case_inputs(case, n))
        assert len(got) == len(want), f"{backend}: {len(got)} results, reference {len(want)}"
        for g, w, t in zip(got, want, function.result_types):
            assert_matches_reference(case.op, g, w, t, f"{backend} at N={n}")


def exec_source(function, target, namespace):
    """The function `function_source` writes for `target`, defined in `namespace`. Its
    file name is its signature: torch.compile keeps what it learnt about a function by
    file, line and name, which one-op functions would otherwise all share."""
    helpers: dict[str, str] = {}
    source = function_source(function, target, "op_under_test", helpers=helpers)
    for helper in helpers.values():
        exec(helper, namespace)
    exec(compile(source, f"<{target.name} {function.signature()}>", "exec"), namespace)
    return namespace[re.match(r"def (\w+)\(", source).group(1)]


def tf_signature(function):
    """Symbolic dims become `None`, so one trace serves every size of them."""
    return [tf.TensorSpec([None if isinstance(d, str) else d for d in arg.type.shape],
                          tf.as_dtype(numpy_ref.numpy_dtype(arg.type.dtype)))
            for arg in function.args]


def torch_outputs(outs):
    for out in outs:
        assert isinstance(out, torch.Tensor), f"torch returned {type(out).__name__}"
    return [out.detach().numpy() for out in outs]


@pytest.mark.parametrize("case_id", list(CASE_BY_ID))
def test_jax_matches_reference(case_id):
    case = CASE_BY_ID[case_id]
    lowered = jax.jit(lower_function(case_function(case)))
    check_backend(case, lambda xs: [np.asarray(o) for o in lowered(*xs)], "jax")


@pytest.mark.parametrize("case_id", list(CASE_BY_ID))
def test_tf_matches_reference(case_id):
    case = CASE_BY_ID[case_id]
    function = case_function(case)
    python = exec_source(function, TF, {"tf": tf, "np": np})
    compiled = tf.function(python, jit_compile=True, autograph=False,
                           input_signature=tf_signature(function))
    traced = compiled.get_concrete_function().structured_outputs
    for out, type_ in zip(traced, function.result_types):
        static = [None if isinstance(d, str) else d for d in type_.shape]
        assert out.shape.as_list() == static, (
            f"the trace's static shape is {out.shape}, the IR's `{type_}`")
    check_backend(case, lambda xs: [o.numpy() for o in compiled(*xs)], "tf")


@pytest.mark.parametrize("case_id", list(CASE_BY_ID))
def test_torch_matches_reference(case_id):
    case = CASE_BY_ID[case_id]
    python = exec_source(case_function(case), TORCH, {"torch": torch, "np": np})
    check_backend(case, lambda xs: torch_outputs(python(*map(torch.from_numpy, xs))),
                  "torch")


def representative(op):
    """The op's first case with a symbolic operand dim, else its first case."""
    cases = [case for case in CASES if case.op == op]
    return next((case for case in cases if case.symbolic), cases[0]).id


TORCH_COMPILED_CASES = [representative(op) for op in TORCH_COMPILED_OPS]


@pytest.mark.parametrize("case_id", TORCH_COMPILED_CASES)
def test_torch_compile_matches_reference(case_id):
    case = CASE_BY_ID[case_id]
    python = exec_source(case_function(case), TORCH, {"torch": torch, "np": np})
    counter = CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(python, backend=counter, fullgraph=True, dynamic=True)
    compilations = []

    def run(xs):
        outs = torch_outputs(compiled(*map(torch.from_numpy, xs)))
        compilations.append(counter.frame_count)
        return outs

    # Without this, "duck sizing" takes `N` to equal any other dim of the same size in
    # the first call (N = 2 and a fixed 2) and compiles again for N = 5.
    with torch.fx.experimental._config.patch(use_duck_shape=False):
        check_backend(case, run, "torch.compile")
    assert len(set(compilations)) == 1, f"compiled again for a new size of N: {compilations}"


# Traits are laws (`registry.TRAITS`) that passes rely on instead of op names; each is
# checked on the reference, over every case of every op that declares it.

def evaluate_case(case, operands, n=SIZES_OF_N[0]):
    """The reference's results for `operands` (and zeros for arguments binding a symbol)."""
    binders = case_inputs(case, n)[len(operands):]
    return numpy_ref.evaluate(case_function(case), *operands, *binders)


def law_broadcasting(case, xs, outs):
    want = np.broadcast_shapes(*(np.shape(x) for x in xs))
    assert outs[0].shape == want, f"result shape {outs[0].shape}, operands broadcast to {want}"


def law_commutative(case, xs, outs):
    swapped = numpy_ref.evaluate(one_op_function(case.op, case.types[::-1], case.attrs),
                                 *xs[::-1])
    np.testing.assert_array_equal(swapped[0], outs[0], err_msg="swapped operands")


def law_linear(case, xs, outs):
    assert all_ops()[case.op].transpose is not None, "a linear op's gradient is a transpose"
    if all(t.is_float for t in case.types):
        rng = np.random.default_rng(1)
        ys = [rng.uniform(-2, 2, np.shape(x)).astype(x.dtype) for x in xs]
        (at_sum,) = evaluate_case(case, [x + y for x, y in zip(xs, ys)])
        (at_y,) = evaluate_case(case, ys)
        rtol, atol = TOLERANCES[case.types[0].dtype]
        np.testing.assert_allclose(at_sum, outs[0] + at_y, rtol=rtol, atol=atol,
                                   err_msg="f(x + y) != f(x) + f(y)")


def law_shape(case, xs, outs):
    values = {0} | {v for x in xs for v in np.ravel(x).tolist()}
    new = set(np.ravel(outs[0]).tolist()) - values
    assert not new, f"values that are in no operand: {sorted(new)[:5]}"


def law_reduction(case, xs, outs):
    assert "axes" in all_ops()[case.op].attrs, "a reduction has no `axes` attribute"
    assert outs[0].ndim <= np.ndim(xs[0]), "a reduction raised the rank"


def law_comparison(case, xs, outs):
    assert outs[0].dtype == np.bool_, f"a comparison made `{outs[0].dtype}`"


def law_constant(case, xs, outs):
    assert not case.types, "a constant op has operands"


def law_random(case, xs, outs):
    (again,) = evaluate_case(case, xs)
    np.testing.assert_array_equal(again, outs[0], err_msg="the same seed drew other bits")
    (other,) = evaluate_case(case, [xs[0] + np.int32(1)])
    assert not np.array_equal(other, outs[0]), "another seed drew the same bits"


TRAIT_LAWS = {
    "elementwise": law_broadcasting,
    "broadcasting": law_broadcasting,
    "commutative": law_commutative,
    "linear": law_linear,
    "shape": law_shape,
    "reduction": law_reduction,
    "comparison": law_comparison,
    "random": law_random,
    "constant": law_constant,
}


@pytest.mark.parametrize("name, trait", [(name, trait) for name in OP_NAMES
                                         for trait in sorted(all_ops()[name].traits)])
def test_trait_holds(name, trait):
    assert trait in TRAIT_LAWS, f"no test checks the law of trait `{trait}`"
    for case in (case for case in CASES if case.op == name):
        xs = case_inputs(case, SIZES_OF_N[0])[:len(case.types)]
        outs = evaluate_case(case, xs)
        TRAIT_LAWS[trait](case, xs, outs)


# Property test: random shapes and attributes, each backend run eagerly (compiling
# each drawn shape would dominate the run; the compiled paths are checked above).

def eager_backends(function):
    lowered = lower_function(function)
    tf_python = exec_source(function, TF, {"tf": tf, "np": np})
    torch_python = exec_source(function, TORCH, {"torch": torch, "np": np})
    return {
        "jax": lambda xs: [np.asarray(o) for o in lowered(*xs)],
        "tf": lambda xs: [np.asarray(o) for o in tf_python(*map(tf.constant, xs))],
        "torch": lambda xs: torch_outputs(torch_python(*map(torch.from_numpy, xs))),
    }


def case_variants(op):
    """The (dtypes, domains) of the op's cases: which values the op is defined on."""
    return sorted({(case.dtypes, case.domains) for case in CASES if case.op == op})


def ops_of(*families):
    return sorted(name for name, op in all_ops().items()
                  if op.family in families and not op.variadic)


ELEMENTWISE_OPS = ops_of("elementwise", "compare")
REDUCTION_OPS = ops_of("reduce")
# Few examples per op, drawn the same way in every run, and no shrinking: each example
# compiles JAX's primitives for new shapes, and a failure already prints its function.
PROPERTY = settings(max_examples=4, deadline=None, derandomize=True,
                    phases=(Phase.explicit, Phase.generate),
                    suppress_health_check=list(HealthCheck))


def check_drawn(op, types, domains, attrs, seed):
    function = one_op_function(op, types, attrs)
    rng = np.random.default_rng(seed)
    xs = [np.asarray(random_input(rng, t, t.shape, d)) for t, d in zip(types, domains)]
    want = numpy_ref.evaluate(function, *xs)
    for backend, run in eager_backends(function).items():
        got = run(xs)
        for g, w, t in zip(got, want, function.result_types):
            assert_matches_reference(op, g, w, t, f"{backend} on {function.signature()}")


@pytest.mark.parametrize("op", ELEMENTWISE_OPS)
@PROPERTY
@given(data=st.data())
def test_elementwise_on_random_shapes(op, data):
    variants = [v for v in case_variants(op) if len(v[0]) == len(all_ops()[op].operands)]
    dtypes, domains = data.draw(st.sampled_from(variants), label="dtypes, domains")
    shapes = data.draw(hnp.mutually_broadcastable_shapes(
        num_shapes=len(dtypes), min_dims=0, max_dims=3, min_side=1, max_side=4)).input_shapes
    attrs = {}
    if op == "convert":
        attrs["dtype"] = data.draw(st.sampled_from(["f32", "f64", "i32", "bool"]))
    types = [TensorType(d, tuple(s)) for d, s in zip(dtypes, shapes)]
    check_drawn(op, types, domains, attrs, data.draw(st.integers(0, 2**32 - 1)))


@pytest.mark.parametrize("op", REDUCTION_OPS)
@PROPERTY
@given(data=st.data())
def test_reductions_on_random_shapes_and_axes(op, data):
    """Over `axes` (any subset, or None) or one `axis` (argmax), with `keepdims`."""
    dtypes, domains = data.draw(st.sampled_from(case_variants(op)), label="dtypes, domains")
    one_axis = "axis" in all_ops()[op].attrs
    shape = data.draw(hnp.array_shapes(min_dims=int(one_axis), max_dims=3, min_side=1,
                                       max_side=4))
    rank = len(shape)
    attrs = {"keepdims": data.draw(st.booleans())}
    if one_axis:
        attrs["axis"] = data.draw(st.integers(-rank, rank - 1))
    else:
        axes = data.draw(st.none() | st.lists(st.integers(0, rank - 1), unique=True,
                                              max_size=rank) if rank else st.none())
        if axes is not None:
            # Negative spellings of the same axes must mean the same.
            axes = [a - rank if data.draw(st.booleans()) else a for a in axes]
        attrs["axes"] = None if axes is None else tuple(axes)
    types = [TensorType(dtypes[0], tuple(shape))]
    check_drawn(op, types, domains, attrs, data.draw(st.integers(0, 2**32 - 1)))
