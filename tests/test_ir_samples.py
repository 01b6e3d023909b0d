"""Sample IR functions shared by the IR, pass and autodiff tests, built through the
builder as the front end would, each node located on its own line of a fake `.nn` file.
The tests here check that every sample verifies and round-trips through text."""

from __future__ import annotations

import numpy as np
import pytest

from dslc.compiler.builder import Builder
from dslc.compiler.ir import DTYPES, Function, Loc, Module, TensorType
from dslc.compiler.ir_text import parse_module, print_function, print_module
from dslc.compiler.verify import verify_function, verify_module


class LineBuilder(Builder):
    """A builder that puts each new node on the next line of `file`, so tests can
    tell nodes apart by location."""

    def __init__(self, function: Function, file: str):
        super().__init__(function, Loc(file, 1, 1))

    def emit(self, op_name, *operands, **attrs):
        self.loc = Loc(self.loc.file, self.loc.line + 1, 5)
        return super().emit(op_name, *operands, **attrs)


def t(spec: str) -> TensorType:
    """`t("f32[N, 2]")` -> the TensorType."""
    dtype, dims = spec.rstrip("]").split("[")
    shape = tuple(int(d) if d.strip().lstrip("-").isdigit() else d.strip()
                  for d in dims.split(",") if d.strip())
    return TensorType(dtype, shape)


def make_function(name: str, args: dict[str, str], body) -> Function:
    """A function `name(args)` whose results are `body(b, *arg_values)`."""
    fn = Function(name, loc=Loc(f"{name}.nn", 1, 1))
    values = [fn.add_arg(t(spec), arg, Loc(f"{name}.nn", 1, 10 + i))
              for i, (arg, spec) in enumerate(args.items())]
    results = body(LineBuilder(fn, f"{name}.nn"), *values)
    fn.results = list(results) if isinstance(results, (tuple, list)) else [results]
    return fn


def linear_loss(b, x, w, bias, y):
    pred = b.add(b.matmul(x, w), bias)
    return b.mean(b.square(b.sub(pred, y)), axes=None, keepdims=False)


def mlp_loss(b, x, w1, w2, y):
    h = b.tanh(b.matmul(x, w1))
    logits = b.matmul(h, w2)
    p = b.sigmoid(logits)
    err = b.sub(p, y)
    scale = b.const(0.5)
    return b.mul(scale, b.sum(b.mul(err, err), axes=None, keepdims=False))


def falling(b, t_):
    return b.mul(b.const(4.9), b.pow(t_, b.const(2.0)))


def exp_chain(b, x, w):
    z = b.exp(b.mul(b.tanh(x), w))
    s = b.sum(b.div(z, b.add(z, b.const(1.0))), axes=None, keepdims=False)
    return b.log(b.add(s, b.maximum(b.sum(x, axes=None, keepdims=False), b.const(0.0))))


def reshape_chain(b, x, w):
    r = b.reshape(b.transpose(x, perm=(1, 0)), shape=(6,))
    m = b.broadcast(r, shape=(2, 6))
    return b.sum(b.mul(m, b.concat(w, w, axis=1)), axes=(0, 1), keepdims=False)


def with_aux(b, x, w):
    pred = b.matmul(x, w)
    loss = b.mean(b.square(pred), axes=None, keepdims=False)
    return loss, pred, b.argmax(pred, axis=1, keepdims=False)


def unused_param(b, x, w, unused):
    return b.sum(b.mul(x, w), axes=None, keepdims=False)


def misc_ops(b, x, w):
    gate = b.gt(x, b.const(0.5))
    picked = b.select(gate, b.relu(b.mul(x, w)), b.stop_gradient(b.exp(x)))
    window = b.slice(picked, start=(0, 1), limit=("N", 3), stride=None)
    return b.max(b.minimum(window, b.sqrt(b.abs(window))), axes=None, keepdims=False)


def init(b, seed):
    w = b.random_normal(seed, shape=(3, 2), stddev=0.1, stream=1)
    u = b.random_uniform(seed, shape=(3, 2), low=-1.0, high=1.0, stream=2)
    return b.add(w, u), b.one_hot(b.argmax(w, axis=0, keepdims=False), depth=3)


SAMPLES = {
    "linear": ({"x": "f32[N, 2]", "W": "f32[2, 1]", "b": "f32[1]", "y": "f32[N, 1]"},
               linear_loss),
    "mlp": ({"x": "f32[B, 3]", "W1": "f32[3, 4]", "W2": "f32[4, 1]", "y": "f32[B, 1]"},
            mlp_loss),
    "falling": ({"t": "f32[]"}, falling),
    "exp_chain": ({"x": "f32[N, 3]", "w": "f32[3]"}, exp_chain),
    "reshape_chain": ({"x": "f32[2, 3]", "w": "f32[2, 3]"}, reshape_chain),
    "with_aux": ({"x": "f32[N, 3]", "w": "f32[3, 2]"}, with_aux),
    "unused_param": ({"x": "f32[N, 3]", "w": "f32[3]", "unused": "f32[N, 2]"},
                     unused_param),
    "misc_ops": ({"x": "f32[N, 3]", "w": "f32[3]"}, misc_ops),
    "init": ({"seed": "i32[]"}, init),
}
DIFFERENTIABLE = [name for name in SAMPLES if name not in ("init", "with_aux")]


def sample(name: str) -> Function:
    args, body = SAMPLES[name]
    return make_function(name, args, body)


def sample_module() -> Module:
    module = Module()
    for name in SAMPLES:
        module.add(sample(name))
    return module


def random_args(fn: Function, size: int, seed: int = 0) -> list[np.ndarray]:
    """Arguments for `fn`, every symbolic dim set to `size`; positive where a `log` or
    `pow` would care."""
    rng = np.random.default_rng(seed)
    shapes = [[d if isinstance(d, int) else size for d in a.type.shape] for a in fn.args]
    return [rng.uniform(0.2, 1.5, shape).astype(DTYPES[a.type.dtype]) if a.type.is_float
            else rng.integers(0, 100, shape).astype(DTYPES[a.type.dtype])
            for a, shape in zip(fn.args, shapes)]


def assert_close(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_verifies(name):
    verify_function(sample(name))


@pytest.mark.parametrize("print_loc", [False, True])
def test_samples_round_trip(print_loc):
    text = print_module(sample_module(), print_loc=print_loc)
    parsed = parse_module(text)
    verify_module(parsed)
    assert print_module(parsed, print_loc=print_loc) == text


def test_round_trip_keeps_locations():
    fn = sample("linear")
    parsed = parse_module(print_function(fn, print_loc=True))
    [copy] = parsed
    assert [n.loc for n in copy.nodes] == [n.loc for n in fn.nodes]
    assert [a.loc for a in copy.args] == [a.loc for a in fn.args]
