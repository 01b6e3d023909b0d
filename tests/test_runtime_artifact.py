"""Tests for runtime/artifact.py: writing and loading exported artifacts, input
checks, corruption errors, and that the loader imports neither the compiler nor lark."""

import ast
import hashlib
import json
import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import export

from dslc.runtime.artifact import (
    FORMAT,
    FORMAT_VERSION,
    ArtifactError,
    current_platform,
    load,
    platform_ok,
    tensor_entries,
    write_artifact,
)

RUNTIME_DIR = pathlib.Path(__file__).resolve().parent.parent / "runtime"


def _predict(x, weights):
    return x @ weights


def _stats(x):
    return jnp.sum(x), jnp.max(x, axis=1)


def write_example(directory, platforms=("cpu",)):
    """An artifact with `predict(x: f32[N, 2], W: f32[2, 1]) -> f32[N, 1]` and
    `stats(x: f32[N, 2]) -> (f32[], f32[N])`, exported with a symbolic batch N."""
    (batch,) = export.symbolic_shape("N")
    x_spec = jax.ShapeDtypeStruct((batch, 2), jnp.float32)
    w_spec = jax.ShapeDtypeStruct((2, 1), jnp.float32)
    functions, blobs = {}, {}
    for name, function, specs, inputs, outputs in [
        ("predict", _predict, (x_spec, w_spec), ["x", "W"], ["y"]),
        ("stats", _stats, (x_spec,), ["x"], ["total", "row_max"]),
    ]:
        exported = export.export(jax.jit(function), platforms=list(platforms))(*specs)
        functions[name] = {
            "file": f"{name}.jaxexport",
            "stablehlo": f"{name}.mlir",
            "inputs": tensor_entries(inputs, exported.in_avals),
            "outputs": tensor_entries(outputs, exported.out_avals),
        }
        blobs[f"{name}.jaxexport"] = exported.serialize()
        blobs[f"{name}.mlir"] = exported.mlir_module()
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "dslc_version": "0.1.0",
        "source": {"path": "example.nn", "sha256": "0" * 64},
        "platforms": list(platforms),
        "target": "cpu",
        "functions": functions,
        "params": [{"name": "W", "dtype": "float32", "shape": [2, 1]}],
        "optimizer_state": [],
    }
    write_artifact(directory, manifest, blobs)
    return directory


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory):
    return write_example(tmp_path_factory.mktemp("artifact"))


def test_round_trip_with_symbolic_batch(artifact_dir):
    artifact = load(artifact_dir)
    assert artifact.function_names == ("predict", "stats")
    assert artifact.params[0].shape == (2, 1) and platform_ok(artifact)
    predict = artifact.function("predict")
    assert [str(spec) for spec in predict.inputs] == ["float32[N, 2]", "float32[2, 1]"]
    weights = np.array([[1.0], [2.0]], np.float32)
    for rows in (3, 7):
        x = np.arange(rows * 2, dtype=np.float32).reshape(rows, 2)
        y = predict(x, weights)
        assert isinstance(y, np.ndarray) and y.shape == (rows, 1)
        np.testing.assert_allclose(y, x @ weights)
    total, row_max = artifact.function("stats")(np.ones((4, 2)))  # float64 is cast
    assert float(total) == 8.0 and row_max.shape == (4,)


def test_input_checks_give_clear_errors(artifact_dir):
    predict = load(artifact_dir).function("predict")
    x, weights = np.zeros((3, 2), np.float32), np.zeros((2, 1), np.float32)
    with pytest.raises(ArtifactError, match=r"takes 2 inputs \(x, W\), got 1"):
        predict(x)
    with pytest.raises(ArtifactError, match="input `x` must have rank 2"):
        predict(np.zeros(3, np.float32), weights)
    with pytest.raises(ArtifactError, match=r"input `W` must have shape float32\[2, 1\]"):
        predict(x, np.zeros((3, 1), np.float32))
    with pytest.raises(ArtifactError, match="input `x` must be float32, got complex64"):
        predict(x.astype(np.complex64), weights)
    with pytest.raises(ArtifactError, match="no function `train_step`; available: predict, stats"):
        load(artifact_dir).function("train_step")


def test_symbolic_dims_must_agree_across_inputs(tmp_path):
    (batch,) = export.symbolic_shape("N")
    spec = jax.ShapeDtypeStruct((batch,), jnp.float32)
    exported = export.export(jax.jit(jnp.add), platforms=["cpu"])(spec, spec)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "platforms": ["cpu"],
        "functions": {"add": {"file": "add.jaxexport", "inputs": tensor_entries(["a", "b"], exported.in_avals)}},
    }
    write_artifact(tmp_path, manifest, {"add.jaxexport": exported.serialize()})
    add = load(tmp_path).function("add")
    np.testing.assert_array_equal(add([1.0, 2.0], [3.0, 4.0]), [4.0, 6.0])
    with pytest.raises(ArtifactError, match="dimension `N` is 2 in input `a` but 3 in input `b`"):
        add([1.0, 2.0], [1.0, 2.0, 3.0])


def test_wrong_platform_is_reported(tmp_path):
    other = "tpu" if current_platform() != "tpu" else "cpu"
    artifact = load(write_example(tmp_path, platforms=(other,)))
    assert not platform_ok(artifact)
    with pytest.raises(ArtifactError, match=f"exported for {other}"):
        artifact.function("stats")(np.zeros((2, 2), np.float32))


def test_missing_and_corrupt_files_raise_artifact_error(tmp_path):
    with pytest.raises(ArtifactError, match="no such artifact directory"):
        load(tmp_path / "absent")
    directory = write_example(tmp_path / "art")
    with open(directory / "predict.jaxexport", "r+b") as file:
        file.seek(100)
        file.write(b"\xff\xff\xff\xff")
    with pytest.raises(ArtifactError, match=r"predict\.jaxexport: contents do not match"):
        load(directory).function("predict")
    os.remove(directory / "stats.jaxexport")
    with pytest.raises(ArtifactError, match=r"stats\.jaxexport: cannot read function `stats`"):
        load(directory).function("stats")
    manifest = json.loads((directory / "manifest.json").read_text())
    garbage = b"garbage" * 20  # with a matching digest, the deserializer must fail cleanly
    (directory / "predict.jaxexport").write_bytes(garbage)
    manifest["files"]["predict.jaxexport"] = hashlib.sha256(garbage).hexdigest()
    (directory / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="not a valid serialized jax.export function"):
        load(directory).function("predict")
    (directory / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="unreadable manifest"):
        load(directory)
    (directory / "manifest.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(ArtifactError, match="version 99.*upgrade dslc"):
        load(directory)
    os.remove(directory / "manifest.json")
    with pytest.raises(ArtifactError, match="manifest.json: missing"):
        load(directory)


def test_write_artifact_rejects_unsafe_names_and_missing_files(tmp_path):
    with pytest.raises(ArtifactError, match="plain file names"):
        write_artifact(tmp_path, {"functions": {}}, {"../escape.bin": b""})
    with pytest.raises(ArtifactError, match="not among the blobs"):
        write_artifact(tmp_path, {"functions": {"f": {"file": "f.jaxexport"}}}, {})


def test_artifact_loader_imports_neither_compiler_nor_lark(artifact_dir):
    script = (
        "import sys, numpy as np\n"
        "import dslc.runtime.artifact as artifact\n"
        f"predict = artifact.load({str(artifact_dir)!r}).function('predict')\n"
        "predict(np.ones((2, 2), np.float32), np.ones((2, 1), np.float32))\n"
        "bad = sorted(m for m in sys.modules if m == 'lark' or m.startswith(('lark.', 'dslc.compiler', 'dslc.dsl')))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


def test_runtime_sources_import_no_syntax_modules():
    forbidden = ("lark", "dslc.dsl", "dslc.compiler")
    for path in RUNTIME_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            else:
                continue
            for name in names:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"
                assert not name.startswith(("..dsl", "..compiler")), f"{path.name} imports {name}"


def tampered(directory, change) -> None:
    manifest = json.loads((directory / "manifest.json").read_text())
    change(manifest)
    (directory / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("file, message", [
    ("../outside.jaxexport", "not a file in the artifact folder"),
    ("/dev/zero", "not a file in the artifact folder"),
    ("sub/predict.jaxexport", "not a file in the artifact folder"),
    ("manifest.json", "not a file in the artifact folder"),
])
def test_manifest_entries_stay_in_the_artifact_folder(tmp_path, file, message):
    directory = write_example(tmp_path / "art")
    tampered(directory, lambda m: m["functions"]["predict"].update(file=file))
    with pytest.raises(ArtifactError, match=message):
        load(directory)


def test_digests_are_required_and_files_must_be_regular(tmp_path):
    directory = write_example(tmp_path / "art")
    tampered(directory, lambda m: m.pop("files"))
    with pytest.raises(ArtifactError, match="no \"files\" map of SHA-256 digests"):
        load(directory)
    directory = write_example(tmp_path / "art2")
    tampered(directory, lambda m: m["files"].pop("stats.jaxexport"))
    with pytest.raises(ArtifactError, match="no SHA-256 digest for 'stats.jaxexport'"):
        load(directory)
    directory = write_example(tmp_path / "art3")
    os.remove(directory / "predict.jaxexport")
    os.mkfifo(directory / "predict.jaxexport")  # reading it would block forever
    with pytest.raises(ArtifactError, match="predict.jaxexport: cannot read function `predict`: "
                                            "not a regular file"):
        load(directory).function("predict")
    os.remove(directory / "stats.jaxexport")
    (directory / "stats.jaxexport").symlink_to("/dev/zero")
    with pytest.raises(ArtifactError, match="a symbolic link"):
        load(directory).function("stats")


def test_rewriting_an_artifact_replaces_it_whole_with_the_users_umask(tmp_path):
    directory = write_example(tmp_path / "art")
    (directory / "left_over.bin").write_bytes(b"old")
    write_example(directory)
    assert not (directory / "left_over.bin").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art"]  # no staging folder left
    mask = os.umask(0o022)
    try:
        write_example(tmp_path / "fresh")
    finally:
        os.umask(mask)
    assert (tmp_path / "fresh").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "fresh" / "manifest.json").stat().st_mode & 0o777 == 0o644
    load(directory).function("predict")
