"""Tests for runtime/data.py: built-in data sources, the registry, npz loading, batching."""

import numpy as np
import pytest

from dslc.runtime.data import (
    DATA_SOURCES,
    REQUIRED,
    DataError,
    Dataset,
    batches_for_epoch,
    digits,
    digit_pairs,
    gaussian_classes,
    npz,
    spirals,
    token_sequences,
    two_blobs,
)


def test_two_blobs_shapes_labels_and_statistics():
    data = two_blobs(per_class=1000, seed=0)
    assert data.x.shape == (2000, 2) and data.x.dtype == np.float32
    assert data.y.shape == (2000, 1) and data.y.dtype == np.float32
    negatives, positives = data.x[:1000], data.x[1000:]
    assert (data.y[:1000] == 0).all() and (data.y[1000:] == 1).all()
    np.testing.assert_allclose(negatives.mean(axis=0), [0, 3], atol=0.1)
    np.testing.assert_allclose(positives.mean(axis=0), [3, 0], atol=0.1)
    np.testing.assert_allclose(np.cov(negatives.T), [[1, 0.5], [0.5, 1]], atol=0.12)


def test_two_blobs_matches_the_textbook_generator():
    rng = np.random.default_rng(7)
    cov = [[1, 0.5], [0.5, 1]]
    expected = np.vstack([rng.multivariate_normal([0, 3], cov, 5), rng.multivariate_normal([3, 0], cov, 5)])
    np.testing.assert_array_equal(two_blobs(per_class=5, seed=7).x, expected.astype(np.float32))


@pytest.mark.parametrize("source", [two_blobs, spirals, gaussian_classes, token_sequences])
def test_sources_are_deterministic_per_seed(source):
    first, again, other = source(seed=3), source(seed=3), source(seed=4)
    np.testing.assert_array_equal(first.x, again.x)
    np.testing.assert_array_equal(first.y, again.y)
    assert not np.array_equal(first.x, other.x)


def test_spirals_and_gaussian_classes_shapes():
    data = spirals(classes=3, per_class=100)
    assert data.x.shape == (300, 2) and data.x.dtype == np.float32
    assert data.y.shape == (300,) and data.y.dtype == np.int32
    assert set(data.y) == {0, 1, 2}
    data = gaussian_classes(classes=4, features=8, per_class=250)
    assert data.x.shape == (1000, 8) and data.y.dtype == np.int32
    assert np.bincount(data.y).tolist() == [250] * 4


def test_bad_arguments_raise_data_error():
    with pytest.raises(DataError, match="per_class"):
        two_blobs(per_class=0)
    with pytest.raises(DataError, match="rows"):
        Dataset(np.zeros((3, 2)), np.zeros(4))


def test_split_takes_the_last_fraction_as_validation():
    data = Dataset(np.arange(10.0)[:, None], np.arange(10))
    train, validation = data.split(0.3)
    assert len(train) == 7 and len(validation) == 3
    assert validation.y.tolist() == [7, 8, 9]
    assert len(data.take([0, 2])) == 2
    with pytest.raises(DataError):
        data.split(1.0)
    with pytest.raises(DataError, match="empty"):
        data.split(0.95)


def test_npz_loads_relative_to_base_dir_with_clear_errors(tmp_path):
    np.savez(tmp_path / "digits.npz", images=np.zeros((4, 3)), labels=np.arange(4), short=np.arange(2))
    data = npz("digits.npz", x="images", y="labels", base_dir=tmp_path)
    assert data.x.shape == (4, 3) and data.y.tolist() == [0, 1, 2, 3]
    with pytest.raises(DataError, match="not found"):
        npz("missing.npz", base_dir=tmp_path)
    with pytest.raises(DataError, match="no array `x`; available: images, labels, short"):
        npz("digits.npz", base_dir=tmp_path)
    with pytest.raises(DataError, match="`images` has 4 rows, `short` has 2 rows"):
        npz("digits.npz", x="images", y="short", base_dir=tmp_path)
    both = npz("digits.npz", x=["images", "labels"], y=["labels"], base_dir=tmp_path)
    assert isinstance(both.x, tuple) and [a.shape for a in both.x] == [(4, 3), (4,)]
    assert isinstance(both.y, tuple) and len(both.y) == 1
    assert [a.tolist() for a in both.take([2, 0]).x[1:]] == [[2, 0]]
    (tmp_path / "broken.npz").write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="cannot read"):
        npz("broken.npz", base_dir=tmp_path)


def test_registry_describes_parameters_and_loads(tmp_path):
    assert set(DATA_SOURCES) >= {"two_blobs", "spirals", "gaussian_classes", "npz"}
    blobs = DATA_SOURCES["two_blobs"]
    assert blobs.parameters == {"per_class": 1000, "seed": 0}
    assert blobs.doc and "\n" not in blobs.doc
    assert len(blobs.load(per_class=3)) == 6
    assert list(DATA_SOURCES["npz"].parameters) == ["path", "x", "y"]
    assert DATA_SOURCES["npz"].parameters["path"] is REQUIRED
    np.savez(tmp_path / "d.npz", x=np.ones((2, 1)), y=np.ones(2))
    assert len(DATA_SOURCES["npz"].load("d.npz", base_dir=tmp_path)) == 2
    with pytest.raises(DataError, match="no parameter `size`"):
        blobs.load(size=3)
    with pytest.raises(DataError, match="missing `path`"):
        DATA_SOURCES["npz"].load()


def test_batches_cover_every_row_once():
    rng = np.random.default_rng(0)
    batches = batches_for_epoch(10, 4, shuffle=True, rng=rng)
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
    assert [b.tolist() for b in batches_for_epoch(5, None, shuffle=False, rng=rng)] == [[0, 1, 2, 3, 4]]


def npy_bytes(array) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("write, message", [
    (lambda p: np.savez(p, x=np.float32(1.0), y=np.arange(3)), "`x` is a single number"),
    (lambda p: np.savez(p, x=np.array(["a", "b"]), y=np.arange(2)), "holds <U1 values"),
    (lambda p: np.savez(p, x=np.zeros(2, dtype=[("a", "f4"), ("b", "i4")]), y=np.arange(2)),
     "data arrays hold numbers"),
    (lambda p: np.savez(p, x=np.zeros((2, 2), np.complex64), y=np.arange(2)), "complex64"),
    (lambda p: np.savez(p, x=np.array([{}, []], dtype=object), y=np.arange(2)),
     "cannot read .* as an .npz file"),
    (lambda p: p.write_bytes(npy_bytes(np.arange(3))), "a single .npy array"),
    (lambda p: (np.savez(p, x=np.zeros((4, 2)), y=np.arange(4)),
                open(p, "r+b").truncate(60)), "cannot read .* as an .npz file"),
])
def test_npz_contents_that_are_not_data_are_data_errors(tmp_path, write, message):
    path = tmp_path / "data.npz"
    write(path)
    with pytest.raises(DataError, match=message):
        npz("data.npz", base_dir=tmp_path)


def test_npz_arrays_past_the_data_limit_are_refused_before_loading(tmp_path, monkeypatch):
    np.savez(tmp_path / "data.npz", x=np.zeros((100, 10), np.float32), y=np.zeros(100))
    monkeypatch.setenv("DSLC_MAX_DATA_BYTES", "2000")
    with pytest.raises(DataError, match="`x` takes 4.0 KiB, more than the limit of 2.0 KiB"):
        npz("data.npz", base_dir=tmp_path)
    monkeypatch.setenv("DSLC_MAX_DATA_BYTES", "10000")
    assert len(npz("data.npz", base_dir=tmp_path)) == 100


def test_digits_are_scikit_learns_scaled_to_unit_range_with_a_channel_axis():
    from sklearn.datasets import load_digits

    data = digits()
    reference = load_digits()
    assert data.x.shape == (1797, 8, 8, 1) and data.x.dtype == np.float32
    assert data.y.shape == (1797,) and data.y.dtype == np.int32
    assert data.x.min() == 0.0 and data.x.max() == 1.0
    np.testing.assert_allclose(data.x[..., 0] * 16.0, reference.images, atol=1e-5)
    np.testing.assert_array_equal(data.y, reference.target)
    # Validation takes the last rows, unshuffled: they must hold every class.
    assert set(data.split(0.2)[1].y.tolist()) == set(range(10))
    assert set(digits(classes=3).y.tolist()) == {0, 1, 2}
    with pytest.raises(DataError, match="from 1 to 10"):
        digits(classes=11)


def test_digits_without_scikit_learn_is_a_data_error_naming_it(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_sklearn(name, *args, **kwargs):
        if name.split(".")[0] == "sklearn":
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(DataError, match="scikit-learn"):
        digits()


def test_digit_pairs_label_which_digit_is_greater_and_hold_out_images():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    data = digit_pairs(pairs=500, seed=2)
    left, right = data.x
    assert left.shape == right.shape == (500, 8, 8, 1) and left.dtype == np.float32
    assert data.y.shape == (500,) and data.y.dtype == np.int32
    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[..., None]
    flat = images.reshape(len(images), -1)

    def matches(side):
        found = (side.reshape(len(side), 1, -1) == flat[None]).all(axis=2)
        assert found.any(axis=1).all()
        return found

    left_found, right_found = matches(left), matches(right)
    np.testing.assert_array_equal(data.y, (bunch.target[left_found.argmax(axis=1)]
                                           > bunch.target[right_found.argmax(axis=1)]))
    # The last 100 pairs (20%) come from the last 20% of the images, the rest from the
    # others (an image is found at any of its copies' rows).
    first_unseen = len(images) - len(images) // 5
    for found in (left_found, right_found):
        assert found[400:, first_unseen:].any(axis=1).all()
        assert found[:400, :first_unseen].any(axis=1).all()
    assert 0.3 < data.y.mean() < 0.6


def test_token_sequences_label_the_order_of_the_two_markers():
    data = token_sequences(vocabulary=12, length=9, per_class=300, seed=1)
    assert data.x.shape == (600, 9) and data.x.dtype == np.int32
    assert data.y.shape == (600,) and data.y.dtype == np.int32
    assert np.bincount(data.y).tolist() == [300, 300]
    # Every row: one marker 1, one marker 2, the rest filler 3..11, never padding 0.
    assert ((data.x == 1).sum(axis=1) == 1).all() and ((data.x == 2).sum(axis=1) == 1).all()
    assert data.x.min() >= 1 and data.x.max() <= 11
    # The label, recomputed row by row from the definition.
    expected = [int(list(row).index(1) < list(row).index(2)) for row in data.x]
    assert data.y.tolist() == expected
    # Shuffled: both classes in the last fifth (the validation split).
    assert set(data.y[-120:]) == {0, 1}
    # The filler's counts carry no label: their means per class agree.
    filler = np.stack([(data.x == t).sum(axis=1) for t in range(3, 12)], axis=1)
    np.testing.assert_allclose(filler[data.y == 0].mean(0), filler[data.y == 1].mean(0), atol=0.2)


@pytest.mark.parametrize("arguments, message", [
    ({"vocabulary": 3}, "vocabulary"), ({"length": 1}, "length"), ({"per_class": 0}, "per_class"),
])
def test_token_sequences_bad_arguments_are_data_errors(arguments, message):
    with pytest.raises(DataError, match=message):
        token_sequences(**arguments)
