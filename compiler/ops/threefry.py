"""JAX's default random generator, threefry-2x32, and its samplers, written once per
backend that reproduces its bits: the NumPy reference as functions of `np`, TF and
torch as the source of `_dslc_` helpers for emitted modules. `random.py` uses them.

Uniform draws are what JAX 0.10 computes (`jax/_src/random/threefry2x32.py` and
`core.py`, with its default `jax_threefry_partitionable=True`), all in uint32 words:
- `key(seed)` is `(0, seed mod 2**32)`; `fold_in(key, s)` is `threefry(key, (0, s))`;
- element `i` (row-major) of a draw is `xor` of the pair `threefry(key, (i >> 32, i))`;
- uniform: its top 23 bits are a fraction `m * 2**-23` in `[0, 1)` (JAX writes them into
  the mantissa of 1.0 and subtracts 1, which is the same number), then
  `max(low, fraction * (high - low) + low)` in float32, XLA computing the `a * b + c`
  with one rounding (a fused multiply-add), as the other backends do (`fma_f32`).

Normal draws are dslc's own, not `jax.random.normal`: that one is XLA's `erf_inv`,
whose `log1p` each framework rounds its own way (about 1% of draws differed in the
last bit). Here erfinv (Giles' polynomial, as XLA's) and the log under it
(`NORMAL_SOURCE`) use only operations that IEEE 754 rounds exactly (`+ - * /`, `sqrt`,
comparisons, bit fields), each rounded once to float32. Compilers fuse a product into
the sum it feeds (an FMA, one rounding) where they may, so `_dslc_rounded`, a `max`
with the lowest float32 that changes no value, stands between each product and its
sum. That one source runs as the NumPy reference and in the JAX rule (over their
primitives) and is emitted for TF and torch: the same bits on every backend.
- normal: `sqrt(2) * erfinv(u) * stddev + mean`, `u` uniform in `[nextafter(-1, 0), 1)`;
- truncated normal: the same, `u` uniform between `erf(-2/sqrt(2))` and `erf(2/sqrt(2))`
  and the sample clamped inside `(-2, 2)`, before `* stddev + mean`.
"""

from __future__ import annotations

import math
import struct

MASK32 = 0xFFFFFFFF
KEY_PARITY = 0x1BD11BDA  # Threefry's third key word is k1 ^ k2 ^ KEY_PARITY
ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))  # alternate between groups of 4 rounds
GROUPS = 5  # 20 rounds, with the key injected after each group of 4

# Giles' erfinv for float32, as XLA evaluates it: pairs (for w < 5, for w >= 5), highest
# power first, of a polynomial in w - 2.5 or sqrt(w) - 3, where w = -log1p(-x * x).
ERFINV_COEFFICIENTS = (
    (2.81022636e-08, -0.000200214257), (3.43273939e-07, 0.000100950558),
    (-3.5233877e-06, 0.00134934322), (-4.39150654e-06, -0.00367342844),
    (0.00021858087, 0.00573950773), (-0.00125372503, -0.0076224613),
    (-0.00417768164, 0.00943887047), (0.246640727, 1.00167406),
    (1.50140941, 2.83297682),
)


# The table as it stands in an emitted helper.
ERFINV_TABLE_SOURCE = "\n".join(
    ["    coefficients = (  # (for w < 5, for w >= 5), highest power first"]
    + [f"        {pair!r}," for pair in ERFINV_COEFFICIENTS] + ["    )"])


# atanh(s) / s - 1 = s^2 P(s^2): the series' coefficients 1/13, 1/11, ..., 1/3, highest
# power first; at |s| <= 3 - 2 sqrt(2), where a mantissa puts it, the next term is
# below 2**-30 of the sum.
ATANH_SERIES = tuple(1 / k for k in (13, 11, 9, 7, 5, 3))
LN2_HIGH = 0.693359375  # log(2) in 10 bits, so that an exponent times it is exact
LN2_LOW = math.log(2) - LN2_HIGH
LOWEST = -3.4028234663852886e38  # the lowest float32


def f32(x: float) -> float:
    """`x` rounded to the nearest float32, as a Python float (which holds it exactly)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


SQRT2 = f32(math.sqrt(2))
NORMAL_LOW = -(1 - 2 ** -24)  # nextafter(-1, 0) in float32, so that erfinv stays finite
TRUNCATION = 2.0  # truncated_normal's bounds, in stddevs
ERF_TRUNCATION = f32(math.erf(f32(TRUNCATION / SQRT2)))  # XLA's float32 erf gives the same
CLAMP = TRUNCATION - 2 ** -23  # the float32 just inside TRUNCATION


# NumPy: the reference. Each function takes the NumPy module (ops import no framework).

# Training step `step` (from 0) of a run seeded with `seed` draws with the seed
# `(seed + step * STEP_SEED_STRIDE) mod 2**31`; the runtime's `step_seed` computes the same
# (it may not import the compiler; tests/test_random_state.py checks that they agree).
STEP_SEED_STRIDE = 0x9E3779B1


def step_seed_source(seed: str, step: str) -> str:
    """Source for the step seed from int64 `seed` and `step` expressions: the low 31 bits
    of the sum are those of the uint32 computation."""
    return f"(({seed} + {step} * {STEP_SEED_STRIDE:#x}) & 0x7FFFFFFF)"


def threefry2x32(np, key, x1, x2):
    """The Threefry-2x32 hash of the counter words `(x1, x2)`, uint32 arrays, under `key`,
    a pair of uint32 scalars."""
    k1, k2 = key
    keys = (k1, k2, k1 ^ k2 ^ np.uint32(KEY_PARITY))
    with np.errstate(over="ignore"):  # uint32 arithmetic wraps, as in JAX
        x1, x2 = x1 + keys[0], x2 + keys[1]
        for group in range(GROUPS):
            for r in ROTATIONS[group % 2]:
                x1 = x1 + x2
                x2 = x1 ^ ((x2 << np.uint32(r)) | (x2 >> np.uint32(32 - r)))
            x1 = x1 + keys[(group + 1) % 3]
            x2 = x2 + keys[(group + 2) % 3] + np.uint32(group + 1)
    return x1, x2


def random_bits(np, seed, stream: int, shape):
    """32 random bits (uint32) per element of `shape`, drawn from `fold_in(key(seed),
    stream)`; the key is the seed's low 32 bits."""
    seed_word = np.asarray(seed).astype(np.uint32)
    folded = threefry2x32(np, (np.uint32(0), seed_word), np.zeros(1, np.uint32),
                          np.full(1, stream & MASK32, np.uint32))
    key = (folded[0][0], folded[1][0])
    index = np.arange(math.prod(shape), dtype=np.uint64)
    bits1, bits2 = threefry2x32(np, key, (index >> 32).astype(np.uint32),
                                index.astype(np.uint32))
    return (bits1 ^ bits2).reshape(shape)


def fma_f32(np, a, b, c):
    """`a * b + c` for float32 operands, rounded once to float32. The product is exact
    in float64; the float64 sum is rounded to odd (its last bit set where the sum is
    inexact), after which rounding to float32 is correct, not a double rounding."""
    a, b, c = (np.asarray(v, np.float64) for v in (a, b, c))
    product = a * b
    total = product + c
    part = total - product
    error = (product - (total - part)) + (c - part)  # total + error == product + c
    bits = total.view(np.int64)
    toward = np.where((error > 0) == (total > 0), 1, -1)
    odd = np.where((error != 0) & ((bits & 1) == 0), bits + toward, bits)
    return odd.view(np.float64).astype(np.float32)


def uniform(np, seed, stream: int, shape, low: float, high: float):
    """float32 samples in `[low, high)`, the bits of `jax.random.uniform`."""
    low, high = np.float32(low), np.float32(high)
    fraction = (random_bits(np, seed, stream, shape) >> np.uint32(9)).astype(np.float32)
    fraction = fraction * np.float32(2.0 ** -23)
    return np.maximum(low, fma_f32(np, fraction, high - low, low))


NORMAL_SOURCE = f'''def _dslc_log_f32(z):
    """log(z) for a positive normal float32 z: its exponent e times log(2), plus the log
    of its mantissa m in [sqrt(1/2), sqrt(2)), 2 atanh(s) = 2s + 2s s^2 P(s^2) with
    s = (m - 1) / (m + 1)."""
    bits = _dslc_bits_of(z)
    exponent = _dslc_to_f32(bits // 0x800000 - 127)
    mantissa = _dslc_float_of(bits & 0x7FFFFF | 0x3F800000)
    high = mantissa > {SQRT2!r}
    exponent = _dslc_where(high, exponent + 1.0, exponent)
    mantissa = _dslc_where(high, mantissa * 0.5, mantissa)
    s = (mantissa - 1.0) / (mantissa + 1.0)
    s2 = _dslc_rounded(s * s)
    p = _dslc_rounded(s2 * {ATANH_SERIES[0]!r}) + {ATANH_SERIES[1]!r}
    for coefficient in {ATANH_SERIES[2:]!r}:
        p = _dslc_rounded(s2 * p) + coefficient
    twice = s + s
    log_mantissa = twice + _dslc_rounded(_dslc_rounded(twice * s2) * p)
    return _dslc_rounded(exponent * {LN2_HIGH!r}) + (
        log_mantissa + _dslc_rounded(exponent * {LN2_LOW!r}))


def _dslc_erfinv_f32(x):
    """erfinv for float32 x in (-1, 1): Giles' polynomial in w = -log(1 - x^2)."""
    w = -_dslc_log_f32((1.0 - x) * (1.0 + x))
    central = w < 5.0
    w = _dslc_where(central, w - 2.5, _dslc_sqrt(w) - 3.0)
{ERFINV_TABLE_SOURCE}
    p = _dslc_where(central, *coefficients[0])
    for inner, outer in coefficients[1:]:
        p = _dslc_rounded(p * w) + _dslc_where(central, inner, outer)
    return p * x


def _dslc_random_normal(seed, stream, shape, mean, stddev):
    """Normal float32 samples: sqrt(2) erfinv(u), u uniform in (-1, 1), then
    `* stddev + mean`."""
    u = _dslc_random_uniform(seed, stream, shape, {NORMAL_LOW!r}, 1.0)
    sample = _dslc_rounded(_dslc_erfinv_f32(u) * {SQRT2!r})  # XLA would fold the two factors
    return _dslc_rounded(sample * stddev) + mean


def _dslc_truncated_normal(seed, stream, shape, mean, stddev):
    """Normal float32 samples within 2 stddev (u uniform between the erf of the
    bounds), then `* stddev + mean`."""
    u = _dslc_random_uniform(seed, stream, shape, {-ERF_TRUNCATION!r}, {ERF_TRUNCATION!r})
    sample = _dslc_erfinv_f32(u) * {SQRT2!r}
    sample = _dslc_where(sample < {-CLAMP!r}, {-CLAMP!r},
                         _dslc_where(sample > {CLAMP!r}, {CLAMP!r}, sample))
    return _dslc_rounded(sample * stddev) + mean'''
NORMAL_NAMES = ("_dslc_log_f32", "_dslc_erfinv_f32", "_dslc_random_normal",
                "_dslc_truncated_normal")
PRIMITIVES = ("_dslc_rounded", "_dslc_where", "_dslc_sqrt", "_dslc_bits_of",
              "_dslc_float_of", "_dslc_to_f32", "_dslc_random_uniform")


def normal_functions(primitives: dict) -> dict:
    """`NORMAL_SOURCE`'s functions over one backend's `PRIMITIVES`, by name."""
    namespace = {name: primitives[name] for name in PRIMITIVES}
    exec(compile(NORMAL_SOURCE, "<dslc normal source>", "exec"), namespace)
    return {name: namespace[name] for name in NORMAL_NAMES}


def numpy_primitives(np) -> dict:
    f32 = np.float32
    return {
        "_dslc_rounded": lambda p: np.maximum(p, f32(LOWEST)),
        "_dslc_where": lambda c, a, b: np.where(c, a, b).astype(f32),
        "_dslc_sqrt": np.sqrt,
        "_dslc_bits_of": lambda z: np.asarray(z, f32).view(np.int32),
        "_dslc_float_of": lambda i: np.asarray(i, np.int32).view(f32),
        "_dslc_to_f32": lambda i: np.asarray(i).astype(f32),
        "_dslc_random_uniform": lambda seed, stream, shape, low, high:
            uniform(np, seed, stream, shape, low, high),
    }


def normal(np, seed, stream: int, shape, mean: float, stddev: float):
    """The reference of `random_normal`, in float32."""
    return normal_functions(numpy_primitives(np))["_dslc_random_normal"](
        seed, stream, shape, mean, stddev)


def truncated_normal(np, seed, stream: int, shape, mean: float, stddev: float):
    """The reference of `truncated_normal`, in float32."""
    return normal_functions(numpy_primitives(np))["_dslc_truncated_normal"](
        seed, stream, shape, mean, stddev)


def normal_helpers(primitives: dict[str, str]) -> dict[str, str]:
    """Emitted helpers: one framework's primitives (source) and the normal source."""
    return {**primitives, "_dslc_normal": NORMAL_SOURCE}


def threefry_source(rotate: str) -> str:
    """The `_dslc_threefry2x32` helper, `rotate` being the framework's expression for
    `x2` rotated left by `r` within 32 bits (with `mask`)."""
    return f'''def _dslc_threefry2x32(k1, k2, x1, x2):
    """Threefry-2x32, JAX's default PRNG hash: {GROUPS * 4} rounds of add, rotate and xor on
    uint32 words, held in int64 tensors masked to 32 bits."""
    mask = {MASK32:#x}
    keys = (k1, k2, k1 ^ k2 ^ {KEY_PARITY:#x})
    x1, x2 = (x1 + keys[0]) & mask, (x2 + keys[1]) & mask
    for group in range({GROUPS}):
        for r in {ROTATIONS!r}[group % 2]:
            x1 = (x1 + x2) & mask
            x2 = x1 ^ ({rotate})
        x1 = (x1 + keys[(group + 1) % 3]) & mask
        x2 = (x2 + keys[(group + 2) % 3] + group + 1) & mask
    return x1, x2'''


# TensorFlow: int64 tensors hold the uint32 words (TF has few uint32 kernels), masked
# after each add; shifts are `tf.bitwise` functions, TF tensors having no `<<`.

TF_HELPERS = {
    "_dslc_threefry2x32": threefry_source(
        "tf.bitwise.left_shift(x2, r) & mask | tf.bitwise.right_shift(x2, 32 - r)"),
    "_dslc_random_bits": f'''def _dslc_random_bits(seed, stream, shape):
    """32 random bits per element of `shape`, as `jax.random` draws them from
    `fold_in(key(seed), stream)`; the key is the seed's low 32 bits."""
    zero = tf.zeros((), tf.int64)
    seed_word = tf.cast(seed, tf.int64) & {MASK32:#x}
    k1, k2 = _dslc_threefry2x32(zero, seed_word, zero, zero + stream)
    count = 1
    for dim in shape:
        count *= dim
    index = tf.range(count, dtype=tf.int64)
    bits1, bits2 = _dslc_threefry2x32(k1, k2, tf.bitwise.right_shift(index, 32),
                                      index & {MASK32:#x})
    return tf.reshape(bits1 ^ bits2, shape)''',
    "_dslc_fma_f32": '''def _dslc_fma_f32(a, b, c):
    """`a * b + c` for float32 tensors with one rounding, as XLA's fused multiply-add:
    the product is exact in float64, and the float64 sum is rounded to odd (its last
    bit set where inexact), so that rounding it to float32 is correct."""
    a, b, c = (tf.cast(t, tf.float64) for t in (a, b, c))
    product = a * b
    total = product + c
    part = total - product
    error = (product - (total - part)) + (c - part)
    bits = tf.bitcast(total, tf.int64)
    toward = tf.where((error > 0) == (total > 0), tf.constant(1, tf.int64),
                      tf.constant(-1, tf.int64))
    odd = tf.where((error != 0) & ((bits & 1) == 0), bits + toward, bits)
    return tf.cast(tf.bitcast(odd, tf.float64), tf.float32)''',
    "_dslc_random_uniform": '''def _dslc_random_uniform(seed, stream, shape, low, high):
    """`jax.random.uniform(fold_in(key(seed), stream), shape, float32, low, high)`: the
    top 23 random bits as a fraction in [0, 1), scaled into [low, high)."""
    low, high = tf.constant(low, tf.float32), tf.constant(high, tf.float32)
    bits = _dslc_random_bits(seed, stream, shape)
    fraction = tf.cast(tf.bitwise.right_shift(bits, 9), tf.float32) * 2.0 ** -23
    return tf.maximum(low, _dslc_fma_f32(fraction, high - low, low))''',
    **normal_helpers({
        "_dslc_rounded": f'''def _dslc_rounded(p):
    """`p` itself, as a value that no compiler fuses into the sum it feeds."""
    return tf.maximum(p, {LOWEST!r})''',
        "_dslc_where": "_dslc_where = tf.where",
        "_dslc_sqrt": "_dslc_sqrt = tf.sqrt",
        "_dslc_bits_of": "def _dslc_bits_of(z):\n    return tf.bitcast(z, tf.int32)",
        "_dslc_float_of": "def _dslc_float_of(i):\n    return tf.bitcast(i, tf.float32)",
        "_dslc_to_f32": "def _dslc_to_f32(i):\n    return tf.cast(i, tf.float32)",
    }),
}


# torch: int64 tensors hold the uint32 words (torch's uint32 lacks most kernels), masked
# after each add and shift.

TORCH_HELPERS = {
    "_dslc_threefry2x32": threefry_source("(x2 << r) & mask | x2 >> (32 - r)"),
    "_dslc_random_bits": f'''def _dslc_random_bits(seed, stream, shape):
    """32 random bits per element of `shape`, as `jax.random` draws them from
    `fold_in(key(seed), stream)`; the key is the seed's low 32 bits."""
    zero = torch.zeros((), dtype=torch.int64, device=seed.device)
    seed_word = seed.to(torch.int64) & {MASK32:#x}
    k1, k2 = _dslc_threefry2x32(zero, seed_word, zero, zero + stream)
    count = 1
    for dim in shape:
        count *= dim
    index = torch.arange(count, dtype=torch.int64, device=seed.device)
    bits1, bits2 = _dslc_threefry2x32(k1, k2, index >> 32, index & {MASK32:#x})
    return (bits1 ^ bits2).reshape(shape)''',
    "_dslc_fma_f32": '''def _dslc_fma_f32(a, b, c):
    """`a * b + c` for float32 tensors with one rounding, as XLA's fused multiply-add:
    the product is exact in float64, and the float64 sum is rounded to odd (its last
    bit set where inexact), so that rounding it to float32 is correct."""
    a, b, c = a.double(), b.double(), c.double()
    product = a * b
    total = product + c
    part = total - product
    error = (product - (total - part)) + (c - part)
    bits = total.view(torch.int64)
    toward = torch.where((error > 0) == (total > 0), 1, -1)
    odd = torch.where((error != 0) & ((bits & 1) == 0), bits + toward, bits)
    return odd.view(torch.float64).float()''',
    "_dslc_random_uniform": '''def _dslc_random_uniform(seed, stream, shape, low, high):
    """`jax.random.uniform(fold_in(key(seed), stream), shape, float32, low, high)`: the
    top 23 random bits as a fraction in [0, 1), scaled into [low, high)."""
    low = torch.tensor(low, dtype=torch.float32, device=seed.device)
    high = torch.tensor(high, dtype=torch.float32, device=seed.device)
    bits = _dslc_random_bits(seed, stream, shape)
    fraction = (bits >> 9).to(torch.float32) * 2.0 ** -23
    return torch.maximum(low, _dslc_fma_f32(fraction, high - low, low))''',
    **normal_helpers({
        "_dslc_rounded": f'''def _dslc_rounded(p):
    """`p` itself, as a value that no compiler fuses into the sum it feeds."""
    return torch.clamp_min(p, {LOWEST!r})''',
        "_dslc_where": "_dslc_where = torch.where",
        "_dslc_sqrt": '''def _dslc_sqrt(w):
    """sqrt rounded correctly, which torch's float32 kernel is not on every CPU (its
    float64 one is, and a float64 root rounds to the correct float32)."""
    return torch.sqrt(w.double()).float()''',
        "_dslc_bits_of": "def _dslc_bits_of(z):\n    return z.view(torch.int32)",
        "_dslc_float_of": "def _dslc_float_of(i):\n    return i.view(torch.float32)",
        "_dslc_to_f32": "def _dslc_to_f32(i):\n    return i.to(torch.float32)",
    }),
}


UNIFORM_HELPERS = ("_dslc_threefry2x32", "_dslc_random_bits", "_dslc_fma_f32",
                   "_dslc_random_uniform")


def helpers_of(table: dict[str, str], sampler: str) -> dict[str, str]:
    """The helpers from `table` (`TF_HELPERS`, `TORCH_HELPERS`) that `sampler` calls:
    the uniform sampler its own four, a normal sampler all of them."""
    if sampler == "_dslc_random_uniform":
        return {name: table[name] for name in UNIFORM_HELPERS}
    return table
