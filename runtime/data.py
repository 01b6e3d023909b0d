"""Data sources and batching for the training loop.

A `train` block's `data = two_blobs(...)` names an entry of `DATA_SOURCES`; the
runtime calls it and gets a `Dataset` of NumPy arrays, which `batches_for_epoch`
cuts into index batches; `DataOrder` is the order a training run visits rows in, kept
in checkpoints. Only NumPy is needed here.
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
    bunch = _bundled("digits")(n_class=int(classes))
    # The pixels are counts 0..16 (4x4 blocks of a 32x32 bitmap); a trailing channel
    # axis makes them Conv2D's channels-last images.
    images = (bunch.images / 16.0).astype(np.float32)[..., None]
    return Dataset(images, bunch.target.astype(np.int32))


def iris(standardize: bool = True, seed: int = 0) -> Dataset:
    """scikit-learn's bundled iris flowers (150 rows, no download): 4 measurements in cm
    as `f32[N, 4]`, the species as sparse `i32` labels 0..2.

    Rows come in an order shuffled by `seed` (scikit-learn's file is sorted by species,
    and `validation_split` takes the last rows); `standardize` scales each feature to
    mean 0 and variance 1, as a Keras user would before training.
    """
    return _bundled_table("iris", standardize, seed)


def breast_cancer(standardize: bool = True, seed: int = 0) -> Dataset:
    """scikit-learn's bundled Wisconsin breast cancer set (569 rows, no download): 30
    features as `f32[N, 30]`, labels 0 (malignant) and 1 (benign) as `f32[N, 1]`, for
    binary cross-entropy.

    Rows shuffled by `seed`; `standardize` scales each feature to mean 0, variance 1
    (the raw features range from 0.001 to 4,254).
    """
    data = _bundled_table("breast_cancer", standardize, seed)
    return Dataset(data.x, data.y.astype(np.float32)[:, None])


def _bundled(name: str):
    """scikit-learn's loader of its bundled data set `name`."""
    try:
        # Imported here so the runtime itself needs only NumPy (and JAX).
        from sklearn import datasets
    except ImportError:
        raise DataError(f"{name}() needs the `scikit-learn` package, which bundles the data "
                        "(pip install scikit-learn)") from None
    return getattr(datasets, f"load_{name}")


def _bundled_table(name: str, standardize: bool, seed: int) -> Dataset:
    """A bundled table of features and class ids, its rows shuffled by `seed`."""
    _check_at_least("seed", seed, 0)
    bunch = _bundled(name)()
    x = bunch.data.astype(np.float64)
    if standardize:
        x = (x - x.mean(axis=0)) / x.std(axis=0)
    order = np.random.default_rng(seed).permutation(len(x))
    return Dataset(x[order].astype(np.float32), bunch.target[order].astype(np.int32))
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
    full_path = _data_file(path, base_dir, whole_file_limit=False)
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
        _check_data_array(full_path, array, key)
    rows = {key: len(array) for key, array in loaded_arrays.items()}
    if len(set(rows.values())) != 1:
        raise DataError(f"{full_path}: " + ", ".join(f"`{k}` has {n} rows" for k, n in rows.items())
                        + "; they must match")

    def part(names, given):
        picked = tuple(loaded_arrays[n] for n in names)
        return picked[0] if isinstance(given, str) else picked

    return Dataset(part(x_keys, x), part(y_keys, y))


def npy(x: str | list[str], y: str | list[str], *,
        base_dir: str | os.PathLike | None = None) -> Dataset:
    """Inputs and targets from NumPy `.npy` files (`np.save`), relative to the `.nn`
    file; a list of files gives a tuple of arrays, for a model with several inputs (`x`)
    or outputs (`y`)."""

    def part(paths):
        loaded = tuple(_npy_array(p, base_dir) for p in ([paths] if isinstance(paths, str) else paths))
        return loaded[0] if isinstance(paths, str) else loaded

    return Dataset(part(x), part(y))


def _npy_array(path: str, base_dir) -> np.ndarray:
    full_path = _data_file(path, base_dir)
    try:
        array = np.load(full_path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError, EOFError) as error:
        raise DataError(f"cannot read {full_path} as an .npy file: {error}") from None
    if not isinstance(array, np.ndarray):
        raise DataError(f"{full_path} is an .npz archive; read it with npz(\"{path}\")")
    _check_data_array(full_path, array)
    return np.array(array)


def csv(path: str, x: str | list[str], y: str | list[str], *,
        base_dir: str | os.PathLike | None = None) -> Dataset:
    """Columns of a `.csv` file with a header row, relative to the `.nn` file: `x` and `y`
    name columns; a list of names gives `[N, k]` (one row of k features per line), a
    single name `[N]` (class ids, say). Every cell of those columns must be a number."""
    import csv as csv_module

    full_path = _data_file(path, base_dir)
    try:
        with open(full_path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv_module.reader(handle))
    except (OSError, UnicodeDecodeError, csv_module.Error) as error:
        raise DataError(f"cannot read {full_path} as a .csv file: {error}") from None
    if not rows:
        raise DataError(f"{path} is empty; it needs a header row naming its columns")
    header = [name.strip() for name in rows[0]]
    if all(_is_number(name) for name in header):
        raise DataError(f"{path} has no header row: its first line holds numbers, "
                        "where `csv` needs the names of the columns")
    wanted = [x] if isinstance(x, str) else list(x)
    wanted += [y] if isinstance(y, str) else list(y)
    for name in wanted:
        if name not in header:
            raise DataError(f"{path} has no column `{name}`; its header names "
                            + ", ".join(f"`{h}`" for h in header))
    body = [(line, row) for line, row in enumerate(rows[1:], start=2) if any(c.strip() for c in row)]
    if not body:
        raise DataError(f"{path} has a header but no rows of data")
    columns = {name: _csv_column(path, header.index(name), name, body) for name in wanted}

    def part(names):
        if isinstance(names, str):
            return columns[names]
        return np.stack([columns[n] for n in names], axis=1).astype(np.float32)

    return Dataset(part(x), part(y))


def _csv_column(path: str, index: int, name: str, body) -> np.ndarray:
    """The numbers in column `index` of the rows `body` ((line, cells) pairs) of the file
    `path`: `i32` when all are whole numbers written without a point, else `f32`."""
    cells = []
    for line, row in body:
        cell = row[index].strip() if index < len(row) else ""
        if not _is_number(cell):
            raise DataError(f"{path}:{line}: column `{name}` holds "
                            f"{repr(cell) if cell else 'nothing'}, not a number")
        cells.append(float(cell))
    whole = all(c.lstrip("+-").isdigit() for _, row in body for c in [row[index].strip()])
    return np.asarray(cells, np.int32 if whole else np.float32)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _data_file(path: str, base_dir, *, whole_file_limit: bool = True) -> str:
    """The data file `path` (relative to `base_dir`), checked to be a regular file and,
    with `whole_file_limit`, within the data limit (an `.npz` is checked per array)."""
    full_path = os.path.join(base_dir, path) if base_dir is not None else path
    if not os.path.exists(full_path):
        raise DataError(f"data file not found: {full_path}")
    if not os.path.isfile(full_path):
        raise DataError(f"{full_path} is not a regular file")
    if whole_file_limit and os.path.getsize(full_path) > (limit := data_limit()):
        raise DataError(f"{full_path} takes {_size(os.path.getsize(full_path))}, more than "
                        f"the limit of {_size(limit)} (DSLC_MAX_DATA_BYTES raises it)")
    return full_path


def _check_data_array(full_path: str, array: np.ndarray, key: str = "") -> None:
    what = f"{full_path}: `{key}`" if key else full_path
    if array.ndim == 0:
        raise DataError(f"{what} is a single number; it needs one row per example")
    if array.dtype.kind not in "biuf":
        raise DataError(f"{what} holds {array.dtype} values; "
                        "data arrays hold numbers (bool, int, uint or float)")


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
        _source(iris),
        _source(breast_cancer),
        _source(npz, uses_base_dir=True),
        _source(npy, uses_base_dir=True),
        _source(csv, uses_base_dir=True),
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


class DataOrder:
    """The order rows are visited in: successive passes over 0..size-1, each shuffled
    by `rng` when `shuffle`. `pending` is what the current pass has left; with the
    generator's state it is all a checkpoint needs to go on in the same order."""

    def __init__(self, size: int, shuffle: bool, rng: np.random.Generator):
        self.size, self.shuffle, self.rng = size, shuffle, rng
        self.pending = np.empty(0, dtype=np.int64)

    def new_pass(self) -> None:
        self.pending = self._one_pass()

    def _one_pass(self) -> np.ndarray:
        return self.rng.permutation(self.size) if self.shuffle else np.arange(self.size)

    def take(self, steps: int, batch_size: int) -> np.ndarray:
        """[steps, batch_size] indices cut across passes (steps mode: all full)."""
        needed = steps * batch_size
        passes = [self.pending]
        available = len(self.pending)
        while available < needed:
            passes.append(self._one_pass())
            available += self.size
        stream = np.concatenate(passes)
        self.pending = stream[needed:]
        return stream[:needed].reshape(steps, batch_size)

    def next_batches(self, steps: int, batch_size: int) -> np.ndarray | None:
        """Up to `steps` full batches [steps, batch_size] of this pass, or its smaller
        last batch alone [1, rest]; None when the pass is done (epochs mode)."""
        if not len(self.pending):
            return None
        full = min(steps, len(self.pending) // batch_size)
        taken = full * batch_size if full else len(self.pending)
        chunk, self.pending = self.pending[:taken], self.pending[taken:]
        return chunk.reshape(max(full, 1), -1)
