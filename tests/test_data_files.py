"""Bringing one's own data: `npy` and `csv` files (checked against NumPy's own readers),
scikit-learn's bundled `iris` and `breast_cancer` (against scikit-learn), and
`validation_data` as a train setting (against evaluating the trained model on it)."""

from __future__ import annotations

import numpy as np
import pytest

from dslc.compiler.api import Program
from dslc.compiler.pipeline import compile_text
from dslc.compiler.training import final_metrics, load_data
from dslc.runtime.data import DataError, breast_cancer, csv, iris, npy
from dslc.runtime.training import evaluate_dataset

from conftest import run_dslc

CSV = "a,b,label,name\n1.5,2,0,x\n3,4.25,1,y\n-1,1e-3,2,z\n\n"


def test_npy_reads_the_arrays_np_save_wrote(tmp_path):
    rng = np.random.default_rng(0)
    x, other, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2)), np.arange(5)
    for name, array in (("x", x), ("other", other), ("y", y)):
        np.save(tmp_path / f"{name}.npy", array)
    data = npy("x.npy", "y.npy", base_dir=tmp_path)
    np.testing.assert_array_equal(data.x, x)
    np.testing.assert_array_equal(data.y, y)
    several = npy(["x.npy", "other.npy"], "y.npy", base_dir=tmp_path)
    np.testing.assert_array_equal(several.x[1], other)


def test_npy_problems_are_data_errors(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 2)))
    np.save(tmp_path / "short.npy", np.zeros(3))
    np.save(tmp_path / "words.npy", np.array(["a", "b", "c", "d"]))
    np.savez(tmp_path / "both.npz", x=np.zeros(4))
    for y, message in (("missing.npy", "data file not found"), ("short.npy", "rows"),
                       ("words.npy", "holds <U1 values"), ("both.npz", r"an .npz archive; read it with npz\(\"both.npz\"\)")):
        with pytest.raises(DataError, match=message):
            npy("x.npy", y, base_dir=tmp_path)


def test_csv_reads_named_columns_as_numpy_does(tmp_path):
    (tmp_path / "d.csv").write_text(CSV)
    data = csv("d.csv", x=["a", "b"], y="label", base_dir=tmp_path)
    reference = np.genfromtxt(tmp_path / "d.csv", delimiter=",", names=True, dtype=None,
                              encoding="utf-8")
    np.testing.assert_array_equal(data.x, np.stack([reference["a"], reference["b"]], 1)
                                  .astype(np.float32))
    np.testing.assert_array_equal(data.y, reference["label"])
    assert data.x.dtype == np.float32 and data.y.dtype == np.int32
    assert csv("d.csv", x="a", y=["b"], base_dir=tmp_path).y.shape == (3, 1)


@pytest.mark.parametrize("text, message", [
    (CSV, "d.csv has no column `c`; its header names `a`, `b`, `label`, `name`"),
    ("a,b,label\n1,2,0\n3,4,oops\n", "d.csv:3: column `label` holds 'oops', not a number"),
    ("a,b,label\n1,2,0\n3,,1\n", "d.csv:3: column `b` holds nothing, not a number"),
    ("1,2,0\n3,4,1\n", "d.csv has no header row: its first line holds numbers, where "
                      "`csv` needs the names of the columns"),
    ("a,b,label\n", "d.csv has a header but no rows of data"),
    ("", "d.csv is empty; it needs a header row naming its columns"),
])
def test_csv_problems_name_the_column_and_line(tmp_path, text, message):
    (tmp_path / "d.csv").write_text(text)
    with pytest.raises(DataError) as error:
        csv("d.csv", x=["a", "c" if "`c`" in message else "b"], y="label", base_dir=tmp_path)
    assert str(error.value) == message


@pytest.mark.parametrize("source, loader", [(iris, "load_iris"),
                                            (breast_cancer, "load_breast_cancer")])
def test_bundled_tables_are_scikit_learns_rows_shuffled(source, loader):
    from sklearn import datasets

    bunch = getattr(datasets, loader)()
    raw = source(standardize=False, seed=3)
    order = np.random.default_rng(3).permutation(len(bunch.data))
    np.testing.assert_array_equal(raw.x, bunch.data[order].astype(np.float32))
    np.testing.assert_array_equal(np.ravel(raw.y), bunch.target[order])
    scaled = source().x
    np.testing.assert_allclose(scaled.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(scaled.std(0), 1, atol=1e-4)
    assert set(np.unique(raw.y[: len(raw.y) // 5])) == set(np.unique(bunch.target))


VALIDATED = """
model Net(x: f32[N, 4]) -> f32[N, 3] {
    return x |> Dense(8, activation=relu) |> Dense(3, activation=softmax)
}

train Net {
    data            = iris(seed=0)
    validation_data = csv("val.csv", x=["a", "b", "c", "d"], y="label")
    loss            = sparse_categorical_crossentropy
    optimizer       = Adam(learning_rate=0.01)
    metrics         = [sparse_categorical_accuracy]
    epochs          = 3
    batch_size      = 16
}
"""


def test_validation_data_is_evaluated_after_each_epoch(tmp_path):
    held_out = iris(seed=1)
    rows = [",".join(map(repr, [*map(float, x), int(y)])) for x, y in zip(held_out.x[:40], held_out.y)]
    (tmp_path / "val.csv").write_text("a,b,c,d,label\n" + "\n".join(rows) + "\n")
    (tmp_path / "net.nn").write_text(VALIDATED)
    compilation = compile_text(VALIDATED, str(tmp_path / "net.nn"))
    assert compilation.ok, compilation.diagnostics
    program = Program(compilation)
    result = program.fit(log=None, verbose=0)
    history = result.history.history
    assert len(history["val_loss"]) == 3 and len(history["loss"]) == 3
    validation = load_data(program, "validation_data")
    assert len(validation) == 40
    from dslc.compiler.training import initial_metrics, split_variables, step_functions

    _, evaluate = step_functions(program)
    loss, (accuracy,) = evaluate_dataset(evaluate, split_variables(program, result.params),
                                         validation, 16, metric_state=initial_metrics(program))
    assert history["val_loss"][-1] == pytest.approx(loss, rel=1e-6)
    assert history["val_sparse_categorical_accuracy"][-1] == pytest.approx(accuracy, rel=1e-6)
    assert len(load_data(program)) == 150  # all of `data` trains: nothing is split off
    assert set(final_metrics(program, result.params)) == {"loss", "sparse_categorical_accuracy"}


def test_dslc_train_shows_validation_logs_from_validation_data(tmp_path):
    (tmp_path / "net.nn").write_text(VALIDATED.replace('csv("val.csv", x=["a", "b", "c", "d"], y="label")',
                                                       "iris(seed=5)"))
    result = run_dslc("train", "net.nn", "--verbose", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(" - val_loss: ") == 3
