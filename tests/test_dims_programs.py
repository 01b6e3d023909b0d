"""Expression dims end to end: a layer that flattens a symbolic `[B, H, W, C]` to
`[B, H * W * C]`, run at two input sizes through XLA, a shape-polymorphic artifact and
the emitted TF and torch modules, each against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from dslc import compile as compile_program
from dslc.compiler import dims

SOURCE = """\
layer Flat() {
    (x: f32[B, H, W, C]) -> f32[B, H * W * C]
    return reshape(x, [B, H * W * C])
}

model Flattened(x: f32[B, H, W, 3]) -> f32[B, H * W * 3] {
    param s: f32[3] = uniform(0, 1)
    return Flat()(x * s) * 2.0
}
"""
SIZES = ((2, 5, 4), (3, 7, 6))


@pytest.fixture(scope="module")
def program():
    return compile_program(SOURCE)


def inputs(batch, height, width):
    return np.random.default_rng(height).normal(size=(batch, height, width, 3)).astype(np.float32)


def expected(params, x):
    return (x * params["s"]).reshape(x.shape[0], -1) * 2.0


def test_types_hold_the_expression(program):
    predict = program.module.functions["predict"]
    assert predict.result_types[0].shape == ("B", dims.parse_dim("3 * H * W"))
    assert predict.symbols == ("B", "H", "W")


@pytest.mark.parametrize("size", SIZES)
def test_predict_through_xla(program, size):
    params = program.init(0)
    x = inputs(*size)
    np.testing.assert_allclose(program.predict(params, x), expected(params, x), rtol=1e-6)


def test_artifact_runs_at_two_sizes(program, tmp_path):
    from dslc.runtime.artifact import ArtifactError, load

    params = program.init(0)
    artifact = load(program.export(tmp_path / "flat"))
    predict = artifact.function("predict")
    assert artifact.manifest["functions"]["predict"]["outputs"][0]["shape"] == ["B", "3 * H * W"]
    for size in SIZES:
        x = inputs(*size)
        np.testing.assert_allclose(predict(params["s"], x), expected(params, x), rtol=1e-6)
    with pytest.raises(ArtifactError):
        predict(params["s"], np.zeros((2, 5, 4, 2), np.float32))


def test_runtime_checks_expression_dims():
    from dslc.runtime.artifact import ArtifactError, TensorSpec, _check_inputs

    specs = [TensorSpec("x", "float32", ("B", "H", "W")),
             TensorSpec("flat", "float32", ("B", "H * W")),
             TensorSpec("half", "float32", ("floordiv(H - 3, 2) + 1",))]
    good = [np.zeros((2, 5, 4)), np.zeros((2, 20)), np.zeros(2)]
    assert len(_check_inputs("f", specs, good)) == 3
    with pytest.raises(ArtifactError, match="`H \\* W` is 20"):
        _check_inputs("f", specs, [good[0], np.zeros((2, 21)), good[2]])
    with pytest.raises(ArtifactError, match="`floordiv\\(H - 3, 2\\) \\+ 1` is 2"):
        _check_inputs("f", specs, [good[0], good[1], np.zeros(3)])


@pytest.mark.parametrize("target", ["tf", "torch"])
def test_emitted_modules_at_two_sizes(program, target):
    pytest.importorskip("tensorflow" if target == "tf" else "torch")
    namespace = {"__name__": f"emitted_flat_{target}"}
    exec(compile(program.emit(target), f"<flat.{target}>", "exec"), namespace)
    params = program.init(0)
    if target == "tf":
        import tensorflow as tf
        predict, to = namespace["predict"], tf.constant
    else:
        import torch
        predict = namespace["compiled"]("aot_eager")["predict"]
        to = lambda array: torch.from_numpy(np.array(array))  # noqa: E731 (a writable copy)
    for size in SIZES:
        x = inputs(*size)
        (got,) = predict(to(params["s"]), to(x))
        got = got.numpy() if target == "tf" else got.detach().numpy()
        np.testing.assert_allclose(got, expected(params, x), rtol=1e-6)
