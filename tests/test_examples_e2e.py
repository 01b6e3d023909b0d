"""Every example end to end through the real `dslc` command, and the artifacts it
writes, loaded back by the runtime alone."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import EXAMPLES, ROOT, run_dslc


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_checks_clean(example):
    result = run_dslc("check", str(example))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_linear_classifier_trains_like_the_textbook(tmp_path):
    history = tmp_path / "h.json"
    result = run_dslc("train", "examples/linear_classifier.nn", "--history", str(history))
    assert result.returncode == 0, result.stderr
    losses = json.loads(history.read_text())["loss"]
    assert len(losses) == 40
    assert losses[-1] < losses[0] / 10
    # The textbook reports the loss settling near 0.025 after 40 steps at lr 0.1.
    assert 0.015 < losses[-1] < 0.04
    final = [line for line in result.stdout.splitlines() if line.startswith("final:")][0]
    accuracy = float(final.split("binary_accuracy:")[1].split(" - ")[0])
    assert accuracy >= 0.99
    assert result.stdout.startswith("40/40 - ")


def test_mlp_learns_the_spirals(tmp_path):
    history = tmp_path / "h.json"
    result = run_dslc("train", "examples/mlp.nn", "--history", str(history), "--quiet")
    assert result.returncode == 0, result.stderr
    recorded = json.loads(history.read_text())
    assert len(recorded["loss"]) == 40 and recorded["epochs"] == 40
    assert recorded["loss"][-1] < 0.3 * recorded["loss"][0]
    final = [line for line in result.stdout.splitlines() if line.startswith("final:")][0]
    assert float(final.split("sparse_categorical_accuracy:")[1]) > 0.9


def final_and_history(example: str, tmp_path) -> tuple[dict, dict]:
    """Trains `example` with `dslc train`; returns its History and its final metrics."""
    history = tmp_path / "h.json"
    result = run_dslc("train", example, "--history", str(history), "--quiet")
    assert result.returncode == 0, result.stderr
    final = [line for line in result.stdout.splitlines() if line.startswith("final:")][0]
    metrics = dict(part.split(": ") for part in final.removeprefix("final: ").split(" - "))
    return json.loads(history.read_text()), {k: float(v) for k, v in metrics.items()}


def test_convnet_reads_held_out_digits(tmp_path):
    recorded, _ = final_and_history("examples/convnet_digits.nn", tmp_path)
    assert recorded["loss"][-1] < 0.2 * recorded["loss"][0]
    # validation_split holds out the last 20% (360 digits), never trained on.
    assert recorded["val_sparse_categorical_accuracy"][-1] > 0.88


def test_residual_network_learns_the_spirals_in_inference_mode(tmp_path):
    recorded, final = final_and_history("examples/residual_block.nn", tmp_path)
    assert recorded["loss"][-1] < 0.3 * recorded["loss"][0]
    # The final evaluation runs BatchNormalization on its running statistics.
    assert final["sparse_categorical_accuracy"] > 0.9


def test_lstm_learns_which_marker_comes_first(tmp_path):
    recorded, _ = final_and_history("examples/lstm_sequences.nn", tmp_path)
    assert recorded["loss"][-1] < 0.2 * recorded["loss"][0]
    # Held-out rows; a model blind to order (counting tokens) stays at chance, 0.5.
    assert recorded["val_sparse_categorical_accuracy"][-1] > 0.95


def test_tiny_transformer_learns_which_marker_comes_first(tmp_path):
    recorded, _ = final_and_history("examples/tiny_transformer.nn", tmp_path)
    assert recorded["loss"][-1] < 0.2 * recorded["loss"][0]
    # Attention alone sees a set of tokens: the position embedding is what tells order.
    assert recorded["val_sparse_categorical_accuracy"][-1] > 0.95


def test_siamese_network_compares_two_unseen_digits(tmp_path):
    recorded, _ = final_and_history("examples/two_inputs.nn", tmp_path)
    assert recorded["loss"][-1] < 0.3 * recorded["loss"][0]
    # Held-out pairs of held-out images. One image alone scores at most 0.75 (answer
    # "greater" when the digit is 5 or more), so this needs both inputs.
    assert recorded["val_sparse_categorical_accuracy"][-1] > 0.85


def run_python(code: str) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter, as a user's script would."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_falling_apple_acceleration_is_9_8_everywhere():
    code = ("import dslc\n"
            "p = dslc.compile('examples/falling_apple.nn')\n"
            "print([float(p.function('acceleration')(t)) for t in (0.0, 0.5, 2.0, 10.0)])\n"
            "print(float(p.function('speed')(2.0)), float(p.function('position')(2.0)))\n")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    accelerations, values = result.stdout.splitlines()
    assert np.allclose(json.loads(accelerations), 9.8, rtol=1e-6)
    speed, position = map(float, values.split())
    assert speed == pytest.approx(19.6, rel=1e-6) and position == pytest.approx(19.6, rel=1e-6)


def test_tpu_artifact_cross_compiles_here(tmp_path):
    out = tmp_path / "tpu"
    result = run_dslc("examples/linear_classifier.nn", "--target", "tpu", "-o", str(out))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["platforms"] == ["tpu"] and manifest["target"] == "tpu"
    assert set(manifest["functions"]) == {"init", "predict", "train_step", "eval_step"}
    predict = manifest["functions"]["predict"]
    assert predict["inputs"][-1] == {"name": "x", "dtype": "float32", "shape": ["N", 2],
                                     "role": "input"}
    assert [o["role"] for o in predict["outputs"]] == ["output"]
    assert [p["name"] for p in manifest["params"]] == ["W", "b"]
    text = (out / "predict.mlir").read_text()
    assert "stablehlo.dot_general" in text
    assert "tensor<?x2xf32>" in text  # the batch dim stays symbolic
    from jax import export

    exported = export.deserialize(bytearray((out / "train_step.jaxexport").read_bytes()))
    assert exported.platforms == ("tpu",)


def test_cpu_artifact_runs_with_only_jax_and_numpy(tmp_path):
    out = tmp_path / "cpu"
    assert run_dslc("examples/linear_classifier.nn", "-o", str(out)).returncode == 0
    code = (
        "import sys, numpy as np\n"
        "from dslc.runtime import artifact\n"
        f"a = artifact.load({str(out)!r})\n"
        "W, b = a.function('init')(np.int32(0))\n"
        "for n in (3, 17):\n"
        "    y = a.function('predict')(W, b, np.ones((n, 2), np.float32))\n"
        "    assert y.shape == (n, 1), y.shape\n"
        "    assert np.allclose(y, np.ones((n, 2)) @ W + b, atol=1e-6)\n"
        "loaded = [m for m in ('lark', 'dslc.compiler', 'dslc.dsl') if m in sys.modules]\n"
        "print('loaded:', loaded)\n")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout


def test_emit_every_stage():
    for stage in ("ast", "ir", "ir-after=frontend", "ir-after=dce", "stablehlo", "summary"):
        result = run_dslc("examples/mlp.nn", "--emit", stage)
        assert result.returncode == 0, (stage, result.stderr)
        assert result.stdout.strip(), stage
    summary = run_dslc("examples/mlp.nn", "--emit", "summary").stdout
    assert "simple_dense_1 (SimpleDense)" in summary
    assert "Total params: 4,547" in summary  # 2*64+64 + 64*64+64 + 64*3+3


def test_artifact_functions_are_called_by_role(tmp_path):
    """The manifest records each input's and output's role; the runtime places values
    by role and groups the results, with the compiler's numbers."""
    from dslc import compile as compile_program
    from dslc.runtime.artifact import load

    out = tmp_path / "cpu"
    assert run_dslc("examples/linear_classifier.nn", "-o", str(out)).returncode == 0
    artifact = load(out)
    train_step = artifact.function("train_step")
    counters = ["metric_state"] * 4  # loss and binary_accuracy: a total and a count each
    assert [s.role for s in train_step.inputs] == ["param", "param", "optimizer", "optimizer",
                                                   *counters, "input", "target"]
    assert [s.role for s in train_step.outputs] == ["param", "param", "optimizer", "optimizer",
                                                    *counters, "loss", "metric", "metric"]
    assert [s.name for s in artifact.metric_state] == [
        "loss/total", "loss/count", "binary_accuracy/total", "binary_accuracy/count"]
    params = artifact.function("init").call_by_role(rng=[np.int32(0)])["param"]
    x = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    program = compile_program("examples/linear_classifier.nn")
    slots = artifact.init_optimizer()
    assert list(slots) == ["optimizer/iterations", "optimizer/learning_rate"]
    assert {k: v.dtype for k, v in slots.items()} == {
        k: v.dtype for k, v in program.init_optimizer().items()}
    assert int(slots["optimizer/iterations"]) == 0
    assert float(slots["optimizer/learning_rate"]) == np.float32(0.1)
    stepped = train_step.call_by_role(param=params, optimizer=list(slots.values()),
                                      metric_state=artifact.initial_values("metric_state"),
                                      input=[x], target=[y])
    new_params, new_slots, loss, metrics = program.train_step(
        program.init(0), program.init_optimizer(), x, y)
    np.testing.assert_allclose(stepped["loss"][0], loss, rtol=1e-6)
    np.testing.assert_allclose(stepped["metric"], list(metrics.values()), rtol=1e-6)
    for ours, theirs in zip(stepped["param"], new_params.values()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert [int(stepped["optimizer"][0])] == [int(new_slots["optimizer/iterations"])] == [1]
    with pytest.raises(Exception, match="takes param `W`, param `b`, optimizer "
                       "`optimizer/iterations`, optimizer `optimizer/learning_rate`, "
                       "metric_state "):
        train_step.call_by_role(param=params, input=[x])
