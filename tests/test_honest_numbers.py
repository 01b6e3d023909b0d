"""Numbers are what the program says: 64-bit types are computed in 64 bits (JAX's x64
mode, scoped to the program that needs it) through the API, artifacts and training,
and a `fn` cannot silently take the name of a generated function."""

from __future__ import annotations

import jax
import numpy as np

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
