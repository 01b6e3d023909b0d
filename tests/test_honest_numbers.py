"""Numbers are what the program says, and sizes are checked before work: 64-bit types
are computed in 64 bits (JAX's x64 mode, scoped to the program that needs it) through
the API, artifacts and training; a `fn` cannot silently take the name of a generated
function; parameters past the memory limit and calls that expand without bound are
diagnostics at their lines."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from conftest import run_dslc
from dslc import compile as compile_program
from dslc.compiler.pipeline import compile_text
from dslc.runtime.artifact import load

WIDE = """
fn scale(x: i64[]) -> i64[] = x * 9000000000
fn tiny(x: f64[]) -> f64[] = x * 1e-300
"""


def test_64_bit_types_are_computed_in_64_bits(tmp_path):
    program = compile_program(WIDE)
    assert int(program.function("scale")(1)) == 9_000_000_000
    assert float(program.function("tiny")(2.0)) == 2e-300
    assert not jax.config.jax_enable_x64  # scoped to the calls, not switched on for all


def test_64_bit_artifacts_run_in_64_bits(tmp_path):
    source = tmp_path / "wide.nn"
    source.write_text(WIDE)
    assert run_dslc(str(source), "-o", str(tmp_path / "out")).returncode == 0
    artifact = load(tmp_path / "out")
    assert int(artifact.function("scale")(np.int64(1))) == 9_000_000_000
    assert float(artifact.function("tiny")(2.0)) == 2e-300


def test_a_fn_cannot_take_a_generated_functions_name():
    text = ("fn train_step(x: f32[]) -> f32[] = x\n"
            "model M(x: f32[N, 2]) -> f32[N, 1] {\n    param W: f32[2, 1] = zeros\n"
            "    return x @ W\n}\n")
    compilation = compile_text(text, "clash.nn")
    [diagnostic] = compilation.diagnostics
    assert diagnostic.code == "E0103" and diagnostic.span.line == 1
    assert "`train_step` is the name of a function dslc generates for the model `M`" in \
        diagnostic.message


# -- limits before work ---------------------------------------------------------------


def test_a_parameter_too_large_for_memory_is_refused_at_its_line(monkeypatch):
    text = ("model M(x: f32[N, 100000]) -> f32[N, 100000] {\n"
            "    param W: f32[100000, 100000] = zeros\n    return x @ W\n}\n")
    [diagnostic] = compile_text(text, "huge.nn").diagnostics
    assert diagnostic.code == "E0207" and diagnostic.span.line == 2
    assert "this parameter takes 37.3 GiB, more than the limit of 8.0 GiB" in diagnostic.message
    monkeypatch.setenv("DSLC_MAX_PARAM_BYTES", str(64 << 30))
    assert compile_text(text, "huge.nn").diagnostics == []


def test_parameters_together_past_the_limit_are_refused_at_the_one_that_crosses_it(
        monkeypatch):
    monkeypatch.setenv("DSLC_MAX_PARAM_BYTES", str(1000))
    text = ("model M(x: f32[N, 10]) -> f32[N, 10] {\n"
            "    param A: f32[10, 10] = zeros\n    param B: f32[10, 10] = zeros\n"
            "    param C: f32[10, 10] = zeros\n    return x @ A @ B @ C\n}\n")
    [diagnostic] = compile_text(text, "three.nn").diagnostics
    assert diagnostic.span.line == 4
    assert "the model's parameters take" in diagnostic.message


def test_calls_that_expand_exponentially_stop_at_the_call_that_crosses_the_bound():
    lines = ["fn f0(x) = x * 2.0"]
    lines += [f"fn f{i}(x) = f{i - 1}(f{i - 1}(x))" for i in range(1, 21)]
    lines.append("fn g(x: f32[]) -> f32[] = f20(x)")
    [diagnostic] = compile_text("\n".join(lines) + "\n", "expand.nn").diagnostics
    assert diagnostic.code == "E0601"
    assert "expands to more than 100,000 IR nodes at this call" in diagnostic.message
    assert diagnostic.span.line == 2  # inside `f1`, where the limit is crossed


def test_a_training_step_too_large_for_memory_is_refused_before_it_runs(monkeypatch):
    from dslc.compiler.training import TrainError

    text = ("model M(x: f32[N, 2]) -> f32[N, 1] {\n"
            "    h = x |> Dense(4096, activation=relu)\n"
            "    return h |> Dense(1)\n}\n"
            "train M {\n    data = two_blobs(per_class=100)\n    loss = mse\n"
            "    batch_size = 200\n    steps = 1\n}\n")
    program = compile_program(text)
    monkeypatch.setenv("DSLC_MAX_ACTIVATION_BYTES", str(1 << 20))
    with pytest.raises(TrainError) as error:
        program.fit(log=None, verbose=0)
    [diagnostic] = error.value.diagnostics
    assert diagnostic.code == "E0207" and "at 200 rows per batch" in diagnostic.message
    monkeypatch.delenv("DSLC_MAX_ACTIVATION_BYTES")
    assert program.fit(log=None, verbose=0).history.steps == 1


def test_a_limit_that_is_not_a_byte_count_stops_dslc_before_work(monkeypatch):
    monkeypatch.setenv("DSLC_MAX_PARAM_BYTES", "lots")
    result = run_dslc("check", "examples/mlp.nn")
    assert result.returncode == 2
    assert "DSLC_MAX_PARAM_BYTES='lots' is not a positive number of bytes" in result.stderr
