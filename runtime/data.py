"""Data sources and batching for the training loop.

A `train` block's `data = two_blobs(...)` names an entry of `DATA_SOURCES`; the
runtime calls it and gets a `Dataset` of NumPy arrays, which `batches_for_epoch`
cuts into index batches. Only NumPy is needed here.
"""

from __future__ import annotations

import inspect
import os
import zipfile
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


class DataError(Exception):
    """A data source could not produce a dataset (bad file, key, argument or length)."""


def arrays(part) -> tuple[np.ndarray, ...]:
    """The arrays of a dataset's `x` or `y`: itself, or the tuple's members."""
    return tuple(part) if isinstance(part, tuple) else (part,)


def rows_of(part, indices):
    """`part` (an array or a tuple of them) at the rows `indices`."""
    return tuple(a[indices] for a in part) if isinstance(part, tuple) else part[indices]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Inputs `x` and targets `y` with the same number of rows (the first axis). For a
    model with several inputs (or outputs), `x` (or `y`) is a tuple of arrays, one per
    input in the model's order."""

    x: np.ndarray | tuple[np.ndarray, ...]
    y: np.ndarray | tuple[np.ndarray, ...]

    def __post_init__(self):
        rows = {len(a) for a in (*arrays(self.x), *arrays(self.y))}
        if len(rows) != 1:
            counts = ", ".join(str(len(a)) for a in (*arrays(self.x), *arrays(self.y)))
            raise DataError(f"the inputs and targets have {counts} rows; they must match")

    def __len__(self) -> int:
        return len(arrays(self.x)[0])

    def take(self, indices) -> Dataset:
        return Dataset(rows_of(self.x, indices), rows_of(self.y, indices))

    def split(self, fraction: float) -> tuple[Dataset, Dataset]:
        """Split into (train, validation), the validation part being the LAST
        `fraction` of the rows, unshuffled, as Keras' `validation_split` does."""
        if not 0.0 < fraction < 1.0:
            raise DataError(f"validation fraction must be between 0 and 1 (exclusive), got {fraction}")
        split_at = int(len(self) * (1.0 - fraction))
        if split_at == 0 or split_at == len(self):
            raise DataError(
                f"validation fraction {fraction} of {len(self)} rows leaves an empty "
                "training or validation set"
            )
        return self.take(slice(0, split_at)), self.take(slice(split_at, None))


def two_blobs(per_class: int = 1000, seed: int = 0) -> Dataset:
    """Two correlated Gaussian blobs (the textbook's linear classifier data):
    label 0 around (0, 3), label 1 around (3, 0), negatives first."""
    _check_positive("per_class", per_class)
    rng = np.random.default_rng(seed)
    cov = [[1.0, 0.5], [0.5, 1.0]]
    negatives = rng.multivariate_normal(mean=[0.0, 3.0], cov=cov, size=per_class)
    positives = rng.multivariate_normal(mean=[3.0, 0.0], cov=cov, size=per_class)
    x = np.vstack([negatives, positives]).astype(np.float32)
    y = np.vstack([np.zeros((per_class, 1)), np.ones((per_class, 1))]).astype(np.float32)
    return Dataset(x, y)


def spirals(classes: int = 3, per_class: int = 100, noise: float = 0.2, seed: int = 0) -> Dataset:
    """Interleaved spiral arms, one per class (CS231n's data); sparse int32 labels."""
    _check_positive("classes", classes)
    _check_positive("per_class", per_class)
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for label in range(classes):
        radius = np.linspace(0.0, 1.0, per_class)
        theta = np.linspace(label * 4.0, (label + 1) * 4.0, per_class)
        theta = theta + rng.standard_normal(per_class) * noise
        xs.append(np.stack([radius * np.sin(theta), radius * np.cos(theta)], axis=1))
        ys.append(np.full(per_class, label))
    return Dataset(np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int32))


def gaussian_classes(classes: int = 4, features: int = 8, per_class: int = 250, seed: int = 0) -> Dataset:
    """One unit-variance Gaussian blob per class around well-spread random centres;
    mostly separable. Sparse int32 labels, grouped by class."""
    _check_positive("classes", classes)
    _check_positive("features", features)
    _check_positive("per_class", per_class)
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(classes, features))
    x = centres.repeat(per_class, axis=0) + rng.standard_normal((classes * per_class, features))
    y = np.arange(classes).repeat(per_class)
    return Dataset(x.astype(np.float32), y.astype(np.int32))


def token_sequences(vocabulary: int = 10, length: int = 10, per_class: int = 500,
                    seed: int = 0) -> Dataset:
    """Token sequences labelled by order: does marker 1 come before marker 2? Each row
    is `length` token ids (`i32`) holding marker 1 and marker 2 once each at random
    positions among filler tokens 3..vocabulary-1 (0 is left for padding); label 1 when
    marker 1 comes first. Rows are shuffled, so `validation_split` sees both classes.

    The filler's token counts say nothing of the label: only the markers' order does,
    which a bag of tokens cannot see and a recurrent or position-aware model can.
    """
    _check_positive("per_class", per_class)
    _check_at_least("vocabulary", vocabulary, 4, " (two markers, a filler and padding 0)")
    _check_at_least("length", length, 2, " (room for both markers)")
    rng = np.random.default_rng(seed)
    rows = 2 * per_class
    tokens = rng.integers(3, vocabulary, size=(rows, length))
    # Two distinct positions per row: the first of a random permutation's pair.
    positions = np.argsort(rng.random((rows, length)), axis=1)[:, :2]
    labels = np.repeat([0, 1], per_class)
    first, second = positions[:, 0], positions[:, 1]
    # Label 1: marker 1 at the earlier of the two positions, marker 2 at the later.
    early, late = np.minimum(first, second), np.maximum(first, second)
    row = np.arange(rows)
    tokens[row, early] = np.where(labels == 1, 1, 2)
    tokens[row, late] = np.where(labels == 1, 2, 1)
    order = rng.permutation(rows)
    return Dataset(tokens[order].astype(np.int32), labels[order].astype(np.int32))


def digits(classes: int = 10) -> Dataset:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, no download):
    images as `f32[N, 8, 8, 1]` scaled to [0, 1], sparse `i32` labels, in
    scikit-learn's order (already mixed, so `validation_split` sees every class).

    `classes` keeps the digits 0..classes-1, as `load_digits(n_class=...)` does.
    """
    if not isinstance(classes, (int, np.integer)) or isinstance(classes, bool) or not 1 <= classes <= 10:
        raise DataError(f"`classes` must be an integer from 1 to 10, got {classes!r}")
    try:
        # Imported here so the runtime itself needs only NumPy (and JAX).
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("digits() needs the `scikit-learn` package, which bundles the digits "
                        "(pip install scikit-learn)") from None
    bunch = load_digits(n_class=int(classes))
    # The pixels are counts 0..16 (4x4 blocks of a 32x32 bitmap); a trailing channel
    # axis makes them Conv2D's channels-last images.
    images = (bunch.images / 16.0).astype(np.float32)[..., None]
    return Dataset(images, bunch.target.astype(np.int32))


def digit_pairs(pairs: int = 1500, seed: int = 0) -> Dataset:
    """Pairs of scikit-learn's 8x8 digits, two inputs `(left, right)`, each
    `f32[N, 8, 8, 1]` in [0, 1], labelled 1 when the left digit is the greater (sparse
    `i32`): neither image alone tells the label.

    The last 20% of the pairs are drawn from the last 20% of the images only, and the
    others from the rest, so `validation_split = 0.2` scores digits never trained on.
    """
    _check_at_least("pairs", pairs, 5, " (a fifth of them are held-out pairs)")
    data = digits()
    images, labels = data.x, data.y
    rng = np.random.default_rng(seed)
    held_out = pairs // 5
    first_unseen = len(images) - len(images) // 5
    index = np.concatenate([rng.integers(0, first_unseen, size=(pairs - held_out, 2)),
                            rng.integers(first_unseen, len(images), size=(held_out, 2))])
    left, right = images[index[:, 0]], images[index[:, 1]]
    greater = labels[index[:, 0]] > labels[index[:, 1]]
    return Dataset((left, right), greater.astype(np.int32))


def npz(path: str, x: str | list[str] = "x", y: str | list[str] = "y", *,
        base_dir: str | os.PathLike | None = None) -> Dataset:
    """Arrays `x` and `y` from a NumPy `.npz` file; a relative `path` is taken from
    `base_dir` (the `.nn` file's folder). A list of names gives a tuple of arrays, for a
    model with several inputs (`x`) or outputs (`y`)."""
    full_path = os.path.join(base_dir, path) if base_dir is not None else path
    if not os.path.exists(full_path):
        raise DataError(f"data file not found: {full_path}")
    if not os.path.isfile(full_path):
        raise DataError(f"{full_path} is not a regular file")
    try:
        loaded = np.load(full_path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"cannot read {full_path} as an .npz file: {error}") from None
    x_keys, y_keys = ([x] if isinstance(x, str) else list(x)), ([y] if isinstance(y, str) else list(y))
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise DataError(f"{full_path} is a single .npy array, not an .npz archive of named arrays "
                        f"(save one with `np.savez(path, {x_keys[0]}=..., {y_keys[0]}=...)`)")
    keys = x_keys + y_keys
    try:
        with loaded as archive:
            available = sorted(archive.files)
            for key in keys:
                if key not in available:
                    raise DataError(
                        f"{full_path} has no array `{key}`; available: {', '.join(available) or '(none)'}"
                    )
            limit = data_limit()
            for key in keys:
                size = archive.zip.getinfo(f"{key}.npy").file_size
                if size > limit:
                    raise DataError(
                        f"{full_path}: `{key}` takes {_size(size)}, more than the limit of "
                        f"{_size(limit)} (DSLC_MAX_DATA_BYTES raises it)")
            loaded_arrays = {key: archive[key] for key in keys}
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"cannot read {full_path} as an .npz file: {error}") from None
    for key, array in loaded_arrays.items():
        if array.ndim == 0:
            raise DataError(f"{full_path}: `{key}` is a single number; it needs one row per example")
        if array.dtype.kind not in "biuf":
            raise DataError(f"{full_path}: `{key}` holds {array.dtype} values; "
                            "data arrays hold numbers (bool, int, uint or float)")
    rows = {key: len(array) for key, array in loaded_arrays.items()}
    if len(set(rows.values())) != 1:
        raise DataError(f"{full_path}: " + ", ".join(f"`{k}` has {n} rows" for k, n in rows.items())
                        + "; they must match")

    def part(names, given):
        picked = tuple(loaded_arrays[n] for n in names)
        return picked[0] if isinstance(given, str) else picked

    return Dataset(part(x_keys, x), part(y_keys, y))


DEFAULT_MAX_DATA_BYTES = 8 << 30


def data_limit() -> int:
    """Bytes one array of a data file may take once loaded: `DSLC_MAX_DATA_BYTES`,
    else 8 GiB; checked from the file's index before anything is read."""
    try:
        return int(os.environ.get("DSLC_MAX_DATA_BYTES", DEFAULT_MAX_DATA_BYTES))
    except ValueError:
        return DEFAULT_MAX_DATA_BYTES


def _size(count: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def _check_positive(name: str, value) -> None:
    _check_at_least(name, value, 1)


def _check_at_least(name: str, value, least: int, why: str = "") -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
        wanted = "a positive integer" if least == 1 else f"an integer of at least {least}"
        raise DataError(f"`{name}` must be {wanted}{why}, got {value!r}")


# -- the registry the compiler checks `data = name(...)` against ---------------

REQUIRED = inspect.Parameter.empty
"""Marks a parameter with no default in `DataSource.parameters`."""


@dataclass(frozen=True)
class DataSource:
    """A built-in data source: its function, its keyword parameters in positional
    order with defaults (`REQUIRED` when there is none), and a one-line doc.
    `uses_base_dir` says whether it reads files relative to the `.nn` file."""

    name: str
    function: Callable[..., Dataset]
    parameters: dict[str, Any]
    doc: str
    uses_base_dir: bool = False

    def load(self, *args, base_dir=None, **kwargs) -> Dataset:
        """Call the source, binding positional `args` in parameter order."""
        if len(args) > len(self.parameters):
            raise DataError(f"{self.name}() takes at most {len(self.parameters)} positional arguments")
        bound = dict(zip(self.parameters, args))
        for key, value in kwargs.items():
            if key not in self.parameters:
                raise DataError(f"{self.name}() has no parameter `{key}`; it takes {', '.join(self.parameters)}")
            if key in bound:
                raise DataError(f"{self.name}() got `{key}` twice")
            bound[key] = value
        missing = [key for key, default in self.parameters.items() if default is REQUIRED and key not in bound]
        if missing:
            raise DataError(f"{self.name}() is missing `{'`, `'.join(missing)}`")
        if self.uses_base_dir:
            bound["base_dir"] = base_dir
        return self.function(**bound)


def _source(function: Callable[..., Dataset], uses_base_dir: bool = False) -> DataSource:
    signature = inspect.signature(function)
    parameters = {
        name: parameter.default
        for name, parameter in signature.parameters.items()
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY
    }
    doc = inspect.getdoc(function).split("\n\n")[0].replace("\n", " ")
    return DataSource(function.__name__, function, parameters, doc, uses_base_dir)


DATA_SOURCES: dict[str, DataSource] = {
    source.name: source
    for source in (
        _source(two_blobs),
        _source(spirals),
        _source(gaussian_classes),
        _source(digits),
        _source(digit_pairs),
        _source(token_sequences),
        _source(npz, uses_base_dir=True),
    )
}


# -- batching -----------------------------------------------------------------


def batches_for_epoch(
    n: int, batch_size: int | None, shuffle: bool, rng: np.random.Generator
) -> list[np.ndarray]:
    """Index arrays covering rows 0..n-1 once, `batch_size` each (None: one full
    batch); the last one is smaller when `batch_size` does not divide `n`."""
    order = rng.permutation(n) if shuffle else np.arange(n)
    size = n if batch_size is None else batch_size
    if size < 1:
        raise DataError(f"batch size must be positive, got {size}")
    return [order[start : start + size] for start in range(0, n, size)]
