"""JAX's default random generator, threefry-2x32, and its samplers, written once per
backend that reproduces its bits: the NumPy reference as functions of `np`, TF and
torch as the source of `_dslc_` helpers for emitted modules. `random.py` uses them.

What JAX 0.10 computes (`jax/_src/random/threefry2x32.py` and `core.py`, with its
default `jax_threefry_partitionable=True`), all in uint32 words:
- `key(seed)` is `(0, seed mod 2**32)`; `fold_in(key, s)` is `threefry(key, (0, s))`;
- element `i` (row-major) of a draw is `xor` of the pair `threefry(key, (i >> 32, i))`;
- uniform: its top 23 bits are a fraction `m * 2**-23` in `[0, 1)` (JAX writes them into
  the mantissa of 1.0 and subtracts 1, which is the same number), then
  `max(low, fraction * (high - low) + low)` in float32;
- normal: `sqrt(2) * erfinv(uniform(nextafter(-1, 0), 1))`, erfinv being XLA's float32
  approximation (Giles'); truncated normal: erfinv of a uniform between `erf(-2/sqrt(2))`
  and `erf(2/sqrt(2))`, times `sqrt(2)`, clamped inside `(-2, 2)`.
XLA computes each `a * b + c` there with one rounding (a fused multiply-add), so the
other backends do too (`fma_f32`). Only `log1p`, inside erfinv, is each framework's own,
and may differ from XLA's in the last bit.
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


def f32(x: float) -> float:
    """`x` rounded to the nearest float32, as a Python float (which holds it exactly)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


SQRT2 = f32(math.sqrt(2))
NORMAL_LOW = -(1 - 2 ** -24)  # nextafter(-1, 0) in float32, so that erfinv stays finite
TRUNCATION = 2.0  # truncated_normal's bounds, in stddevs
ERF_TRUNCATION = f32(math.erf(f32(TRUNCATION / SQRT2)))  # XLA's float32 erf gives the same
CLAMP = TRUNCATION - 2 ** -23  # the float32 just inside TRUNCATION


def normal_scale(stddev: float) -> float:
    """`sqrt(2) * stddev` in float32: XLA folds the two constant factors of a normal draw
    into one before the fused multiply-add that applies them."""
    return f32(SQRT2 * f32(stddev))  # a product of two float32s is exact in a double


# NumPy: the reference. Each function takes the NumPy module (ops import no framework).

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


def erfinv_f32(np, x):
    """XLA's float32 erfinv, up to NumPy's `log1p`."""
    with np.errstate(divide="ignore", invalid="ignore"):  # at x = +-1, handled last
        w = -np.log1p(x * -x)
        central = w < np.float32(5)
        w = np.where(central, w - np.float32(2.5), np.sqrt(w) - np.float32(3))
        inner, outer = ERFINV_COEFFICIENTS[0]
        p = np.where(central, np.float32(inner), np.float32(outer))
        for inner, outer in ERFINV_COEFFICIENTS[1:]:
            p = fma_f32(np, p, w, np.where(central, np.float32(inner), np.float32(outer)))
        return np.where(np.abs(x) == 1, x * np.float32(np.inf), p * x)


def normal(np, seed, stream: int, shape, mean: float, stddev: float):
    """`jax.random.normal(...) * stddev + mean` in float32, as XLA computes it."""
    sample = erfinv_f32(np, uniform(np, seed, stream, shape, NORMAL_LOW, 1.0))
    return fma_f32(np, sample, np.float32(normal_scale(stddev)), np.float32(mean))


def truncated_normal(np, seed, stream: int, shape, mean: float, stddev: float):
    """`jax.random.truncated_normal(..., -2, 2) * stddev + mean` in float32."""
    u = uniform(np, seed, stream, shape, -ERF_TRUNCATION, ERF_TRUNCATION)
    sample = np.clip(np.float32(SQRT2) * erfinv_f32(np, u), -CLAMP, CLAMP)
    return fma_f32(np, sample, np.float32(stddev), np.float32(mean))


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
    "_dslc_erfinv_f32": f'''def _dslc_erfinv_f32(x):
    """erfinv in float32 as XLA computes it (Giles' approximation, one fused
    multiply-add per step); only `log1p` may round differently from XLA's."""
    w = -tf.math.log1p(x * -x)
    central = w < 5.0
    w = tf.where(central, w - 2.5, tf.sqrt(w) - 3.0)
{ERFINV_TABLE_SOURCE}
    p = tf.where(central, *coefficients[0])
    for inner, outer in coefficients[1:]:
        p = _dslc_fma_f32(p, w, tf.where(central, inner, outer))
    return tf.where(tf.abs(x) == 1.0, x * float("inf"), p * x)''',
    "_dslc_random_uniform": '''def _dslc_random_uniform(seed, stream, shape, low, high):
    """`jax.random.uniform(fold_in(key(seed), stream), shape, float32, low, high)`: the
    top 23 random bits as a fraction in [0, 1), scaled into [low, high)."""
    low, high = tf.constant(low, tf.float32), tf.constant(high, tf.float32)
    bits = _dslc_random_bits(seed, stream, shape)
    fraction = tf.cast(tf.bitwise.right_shift(bits, 9), tf.float32) * 2.0 ** -23
    return tf.maximum(low, _dslc_fma_f32(fraction, high - low, low))''',
    "_dslc_random_normal": f'''def _dslc_random_normal(seed, stream, shape, mean, stddev):
    """`jax.random.normal(fold_in(key(seed), stream), shape) * stddev + mean` as XLA
    computes it: sqrt(2) * stddev in float32, applied with one fused multiply-add."""
    u = _dslc_random_uniform(seed, stream, shape, {NORMAL_LOW!r}, 1.0)
    scale = tf.constant({SQRT2!r}, tf.float32) * tf.constant(stddev, tf.float32)
    return _dslc_fma_f32(_dslc_erfinv_f32(u), scale, tf.constant(mean, tf.float32))''',
    "_dslc_truncated_normal": f'''def _dslc_truncated_normal(seed, stream, shape, mean, stddev):
    """`jax.random.truncated_normal(fold_in(key(seed), stream), -2, 2, shape) * stddev
    + mean`, the scale and shift being one fused multiply-add."""
    u = _dslc_random_uniform(seed, stream, shape, {-ERF_TRUNCATION!r}, {ERF_TRUNCATION!r})
    sample = tf.clip_by_value({SQRT2!r} * _dslc_erfinv_f32(u), {-CLAMP!r},
                              {CLAMP!r})
    stddev, mean = tf.constant(stddev, tf.float32), tf.constant(mean, tf.float32)
    return _dslc_fma_f32(sample, stddev, mean)''',
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
    "_dslc_erfinv_f32": f'''def _dslc_erfinv_f32(x):
    """erfinv in float32 as XLA computes it (Giles' approximation, one fused
    multiply-add per step); only `log1p` may round differently from XLA's."""
    w = -torch.log1p(x * -x)
    central = w < 5.0
    w = torch.where(central, w - 2.5, torch.sqrt(w) - 3.0)
{ERFINV_TABLE_SOURCE}
    p = torch.where(central, *coefficients[0])
    for inner, outer in coefficients[1:]:
        p = _dslc_fma_f32(p, w, torch.where(central, inner, outer))
    return torch.where(x.abs() == 1.0, x * float("inf"), p * x)''',
    "_dslc_random_uniform": '''def _dslc_random_uniform(seed, stream, shape, low, high):
    """`jax.random.uniform(fold_in(key(seed), stream), shape, float32, low, high)`: the
    top 23 random bits as a fraction in [0, 1), scaled into [low, high)."""
    low = torch.tensor(low, dtype=torch.float32, device=seed.device)
    high = torch.tensor(high, dtype=torch.float32, device=seed.device)
    bits = _dslc_random_bits(seed, stream, shape)
    fraction = (bits >> 9).to(torch.float32) * 2.0 ** -23
    return torch.maximum(low, _dslc_fma_f32(fraction, high - low, low))''',
    "_dslc_random_normal": f'''def _dslc_random_normal(seed, stream, shape, mean, stddev):
    """`jax.random.normal(fold_in(key(seed), stream), shape) * stddev + mean` as XLA
    computes it: sqrt(2) * stddev in float32, applied with one fused multiply-add."""
    u = _dslc_random_uniform(seed, stream, shape, {NORMAL_LOW!r}, 1.0)
    sqrt2, stddev, mean = (torch.tensor(v, dtype=torch.float32, device=u.device)
                           for v in ({SQRT2!r}, stddev, mean))
    return _dslc_fma_f32(_dslc_erfinv_f32(u), sqrt2 * stddev, mean)''',
    "_dslc_truncated_normal": f'''def _dslc_truncated_normal(seed, stream, shape, mean, stddev):
    """`jax.random.truncated_normal(fold_in(key(seed), stream), -2, 2, shape) * stddev
    + mean`, the scale and shift being one fused multiply-add."""
    u = _dslc_random_uniform(seed, stream, shape, {-ERF_TRUNCATION!r}, {ERF_TRUNCATION!r})
    sample = torch.clamp({SQRT2!r} * _dslc_erfinv_f32(u), {-CLAMP!r},
                         {CLAMP!r})
    stddev, mean = (torch.tensor(v, dtype=torch.float32, device=u.device)
                    for v in (stddev, mean))
    return _dslc_fma_f32(sample, stddev, mean)''',
}
