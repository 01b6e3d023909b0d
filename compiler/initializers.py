"""Parameter initializers by their Keras names, each building IR for the `init` function.

The front end turns `param W: f32[2, 1] = uniform(0, 1)` into a `Spec`; `build_init`
emits, for each parameter, the ops that draw it from `init(seed)`'s key, folded with
the parameter's stream (its index) unless the initializer pins its own `seed`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from ..dsl.diagnostics import Diagnostic, DiagnosticError
from .builder import Builder
from .ir import TensorType, Value


@dataclass(frozen=True)
class Initializer:
    """`draw(b, seed, type, stream, fan_in, fan_out, **args)` -> a Value of `type`."""

    params: dict[str, Any]
    draw: Callable[..., Value]
    doc: str


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Keras' fan-in and fan-out: the last two dims, times the receptive field."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _fill(value_of):
    def draw(b: Builder, seed, ttype, stream, fan_in, fan_out, **args):
        return b.emit("constant", value=value_of(args), dtype=ttype.dtype, shape=ttype.shape)
    return draw


def _uniform(limit_of):
    def draw(b, seed, ttype, stream, fan_in, fan_out, **args):
        low, high = limit_of(args, fan_in, fan_out)
        return b.emit("random_uniform", seed, shape=ttype.shape, dtype=ttype.dtype,
                      low=float(low), high=float(high), stream=stream)
    return draw


def _normal(stddev_of, op="random_normal"):
    def draw(b, seed, ttype, stream, fan_in, fan_out, **args):
        mean, stddev = stddev_of(args, fan_in, fan_out)
        return b.emit(op, seed, shape=ttype.shape, dtype=ttype.dtype, mean=float(mean),
                      stddev=float(stddev), stream=stream)
    return draw


def _scaled(scale: float, mode: str):
    def fan(fan_in, fan_out):
        return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    # Keras divides by this constant so that the truncated normal keeps the stddev.
    truncated = 0.87962566103423978
    normal = _normal(lambda a, i, o: (0.0, math.sqrt(scale / fan(i, o)) / truncated),
                     "truncated_normal")
    uniform = _uniform(lambda a, i, o: (-math.sqrt(3 * scale / fan(i, o)),
                                        math.sqrt(3 * scale / fan(i, o))))
    return normal, uniform


def _orthogonal(b, seed, ttype, stream, fan_in, fan_out, gain):
    """Keras' `Orthogonal`: the shape flattened to `[rows, cols]` (every dim but the last,
    times; the last), a normal draw of `[max, min]` of them, its QR's `q` times the signs
    of `r`'s diagonal (which makes `q` unique, Haar-distributed), transposed when wide."""
    if ttype.rank < 2:
        raise DiagnosticError([Diagnostic(
            "E0304", f"`orthogonal` needs a parameter of rank 2 or more, got `{ttype}`",
            b.loc.span, help="an orthogonal matrix has rows and columns; use e.g. "
            "`glorot_uniform` for a vector")])
    rows, cols = math.prod(ttype.shape[:-1]), ttype.shape[-1]
    tall, short = max(rows, cols), min(rows, cols)
    normal = b.emit("random_normal", seed, shape=(tall, short), dtype=ttype.dtype, mean=0.0,
                    stddev=1.0, stream=stream)
    q, r = b.emit("qr", normal)
    # r's diagonal, as a sum down each column of r masked to its diagonal: exact.
    diagonal = b.eq(b.iota(shape=(short, short), axis=0), b.iota(shape=(short, short), axis=1))
    zeros = b.emit("constant", value=0.0, dtype=ttype.dtype, shape=(short, short))
    signs = b.sign(b.sum(b.select(diagonal, r, zeros), axes=(0,), keepdims=False))
    q = b.mul(q, signs)
    if rows < cols:
        q = b.transpose(q, perm=(1, 0))
    q = b.reshape(q, shape=ttype.shape) if ttype.rank > 2 else q
    return q if gain == 1.0 else b.mul(q, b.const(float(gain), ttype.dtype))


def _unit_forget_bias(b, seed, ttype, stream, fan_in, fan_out, units):
    """Keras' LSTM bias with `unit_forget_bias`: gates `i, f, c, o`, the forget gate's
    `units` ones and the rest zeros."""
    if ttype.shape != (4 * units,):
        raise DiagnosticError([Diagnostic(
            "E0304", f"`lstm_forget_bias({units})` is an LSTM bias `[{4 * units}]`, the "
            f"parameter is `{ttype}`", b.loc.span,
            help="`units` is the LSTM's: the bias holds its four gates")])
    zeros = b.emit("constant", value=0, dtype=ttype.dtype, shape=(units,))
    ones = b.emit("constant", value=1, dtype=ttype.dtype, shape=(units,))
    rest = b.emit("constant", value=0, dtype=ttype.dtype, shape=(2 * units,))
    return b.concat(zeros, ones, rest, axis=0)


_glorot_normal, _glorot_uniform = _scaled(1.0, "fan_avg")
_he_normal, _he_uniform = _scaled(2.0, "fan_in")
_lecun_normal, _lecun_uniform = _scaled(1.0, "fan_in")

INITIALIZERS: dict[str, Initializer] = {
    "zeros": Initializer({}, _fill(lambda a: 0), "all zeros"),
    "ones": Initializer({}, _fill(lambda a: 1), "all ones"),
    "constant": Initializer({"value": 0.0}, _fill(lambda a: a["value"]), "every element `value`"),
    "uniform": Initializer({"minval": -0.05, "maxval": 0.05, "seed": None},
                           _uniform(lambda a, i, o: (a["minval"], a["maxval"])),
                           "uniform in [minval, maxval)"),
    "normal": Initializer({"mean": 0.0, "stddev": 0.05, "seed": None},
                          _normal(lambda a, i, o: (a["mean"], a["stddev"])),
                          "normal with `mean` and `stddev`"),
    "truncated_normal": Initializer({"mean": 0.0, "stddev": 0.05, "seed": None},
                                    _normal(lambda a, i, o: (a["mean"], a["stddev"]),
                                            "truncated_normal"),
                                    "normal truncated at two standard deviations"),
    "glorot_uniform": Initializer({"seed": None}, _glorot_uniform,
                                  "uniform, limit sqrt(6 / (fan_in + fan_out))"),
    "glorot_normal": Initializer({"seed": None}, _glorot_normal,
                                 "truncated normal, stddev sqrt(2 / (fan_in + fan_out))"),
    "he_uniform": Initializer({"seed": None}, _he_uniform, "uniform, limit sqrt(6 / fan_in)"),
    "he_normal": Initializer({"seed": None}, _he_normal,
                             "truncated normal, stddev sqrt(2 / fan_in)"),
    "lecun_uniform": Initializer({"seed": None}, _lecun_uniform,
                                 "uniform, limit sqrt(3 / fan_in)"),
    "lecun_normal": Initializer({"seed": None}, _lecun_normal,
                                "truncated normal, stddev sqrt(1 / fan_in)"),
    "orthogonal": Initializer({"gain": 1.0, "seed": None}, _orthogonal,
                              "a random orthogonal matrix (rows or columns orthonormal), "
                              "times `gain`; the leading dims are flattened into rows"),
    "lstm_forget_bias": Initializer({"units": 1}, _unit_forget_bias,
                                    "an LSTM bias `[4 * units]`: ones for the forget gate, "
                                    "zeros for the others"),
}
ALIASES = {"random_uniform": "uniform", "random_normal": "normal", "Zeros": "zeros",
           "Ones": "ones", "Constant": "constant", "RandomUniform": "uniform",
           "RandomNormal": "normal", "TruncatedNormal": "truncated_normal",
           "GlorotUniform": "glorot_uniform", "GlorotNormal": "glorot_normal",
           "HeNormal": "he_normal", "HeUniform": "he_uniform",
           "LecunNormal": "lecun_normal", "LecunUniform": "lecun_uniform",
           "Orthogonal": "orthogonal"}
# Keras' RandomUniform calls its bounds minval/maxval; `uniform(0, 1)` binds them in order.


def draw(b: Builder, seed: Value, ttype: TensorType, stream: int, init: Initializer,
         args: dict[str, Any]) -> Value:
    """The IR for one parameter's initial value, drawn by `init` with `args`."""
    fan_in, fan_out = fans(ttype.shape)
    args = dict(args)
    pinned = args.pop("seed", None)
    if pinned is not None:
        seed, stream = b.const(int(pinned), "i32"), 0
    return init.draw(b, seed, ttype, stream, fan_in, fan_out, **args)
