"""The data sources a `train` block can name, `data = two_blobs(per_class=500)`: their
parameters, defaults and docs, which the front end checks a call against without
loading JAX or the runtime. `runtime/data.py` implements each under the same name and
signature (a test holds the two in step); the runtime receives the name and the bound
arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()  # the default of a parameter that must be given


@dataclass(frozen=True)
class DataSource:
    """`params`: name -> default (`REQUIRED` for none), in positional order; `kinds`:
    name -> `int`, `float`, `bool`, `str` or `names` (a string or a list of them), what
    the front end accepts for it;
    `reads_files`: paths in its arguments are relative to the `.nn` file."""

    name: str
    params: dict[str, Any]
    kinds: dict[str, str]
    doc: str
    reads_files: bool = False


def _source(name: str, doc: str, *params: tuple[str, str, Any],
            reads_files: bool = False) -> DataSource:
    return DataSource(name, {p: default for p, _, default in params},
                      {p: kind for p, kind, _ in params}, doc, reads_files)


DATA_SOURCES: dict[str, DataSource] = {source.name: source for source in (
    _source("two_blobs", "two correlated Gaussian blobs (the textbook's linear classifier "
            "data), labels 0 and 1 as `f32[N, 1]`",
            ("per_class", "int", 1000), ("seed", "int", 0)),
    _source("spirals", "interleaved spiral arms in 2-D, one per class, sparse `i32` labels",
            ("classes", "int", 3), ("per_class", "int", 100), ("noise", "float", 0.2),
            ("seed", "int", 0)),
    _source("gaussian_classes", "one Gaussian blob per class in `features` dimensions, "
            "sparse `i32` labels",
            ("classes", "int", 4), ("features", "int", 8), ("per_class", "int", 250),
            ("seed", "int", 0)),
    _source("digits", "scikit-learn's bundled 8x8 handwritten digits as `f32[N, 8, 8, 1]` in "
            "[0, 1], sparse `i32` labels (needs scikit-learn)",
            ("classes", "int", 10)),
    _source("iris", "scikit-learn's bundled iris flowers: `f32[N, 4]` measurements, species as "
            "sparse `i32` labels 0..2, rows shuffled by `seed` (needs scikit-learn)",
            ("standardize", "bool", True), ("seed", "int", 0)),
    _source("breast_cancer", "scikit-learn's bundled breast cancer set: `f32[N, 30]` features, "
            "labels 0 and 1 as `f32[N, 1]`, rows shuffled by `seed` (needs scikit-learn)",
            ("standardize", "bool", True), ("seed", "int", 0)),
    _source("digit_pairs", "pairs of the 8x8 digits as two inputs `(left, right)`, each "
            "`f32[N, 8, 8, 1]`, label 1 when the left digit is the greater (sparse `i32`; "
            "needs scikit-learn)",
            ("pairs", "int", 1500), ("seed", "int", 0)),
    _source("token_sequences", "token ids `i32[N, length]` holding markers 1 and 2 among "
            "filler tokens, label 1 when marker 1 comes first (sparse `i32`)",
            ("vocabulary", "int", 10), ("length", "int", 10), ("per_class", "int", 500),
            ("seed", "int", 0)),
    _source("npz", "arrays `x` and `y` of a NumPy `.npz` file, relative to the `.nn` file; "
            "a list of names for a model with several inputs or outputs",
            ("path", "str", REQUIRED), ("x", "names", "x"), ("y", "names", "y"),
            reads_files=True),
    _source("npy", "inputs and targets from NumPy `.npy` files, relative to the `.nn` file; "
            "a list of files for a model with several inputs or outputs",
            ("x", "names", REQUIRED), ("y", "names", REQUIRED), reads_files=True),
    _source("csv", "columns of a `.csv` file with a header row, relative to the `.nn` file: "
            "a list of names gives `[N, k]`, one name `[N]`",
            ("path", "str", REQUIRED), ("x", "names", REQUIRED), ("y", "names", REQUIRED),
            reads_files=True),
)}
