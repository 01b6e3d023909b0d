"""`dslc verify`: the three backends trained side by side agree on the examples, and a
rule changed on one backend (a hook of this test, not of dslc) is caught, bisected to
the first IR node that differs, and named with its `.nn` line."""

from __future__ import annotations

import pytest

from conftest import run_dslc
from dslc import compile as compile_program
from dslc.compiler.agreement import verify
from dslc.compiler.ops import registry

pytest.importorskip("tensorflow")
pytest.importorskip("torch")


def test_cli_reports_agreement():
    result = run_dslc("verify", "examples/linear_classifier.nn", "--steps", "3",
                      "--torch-backend", "aot_eager")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["step", "loss", "(xla)", "loss"]
    assert [line.split()[0] for line in lines[1:4]] == ["1", "2", "3"]
    assert lines[-1].startswith("agree: 3 steps, largest relative deviation")


def test_cli_refuses_a_program_without_training():
    result = run_dslc("verify", "examples/falling_apple.nn")
    assert result.returncode == 1
    assert "no `train` block" in result.stderr


@pytest.fixture
def perturbed_matmul():
    """TF's `matmul` made 0.1% too large: wrong by far more than rounding."""
    op = registry.get("matmul")
    original = op.rules["tf"]
    op.rules["tf"] = lambda ctx, x, y: f"({original(ctx, x, y)}) * 1.001"
    yield
    op.rules["tf"] = original


def test_a_perturbed_rule_is_found_and_named(perturbed_matmul):
    program = compile_program("examples/linear_classifier.nn")
    result = verify(program, 5, torch_backend="aot_eager", log=None)
    assert not result.ok and result.failed_step == 1
    culprit = result.culprit
    assert culprit.op == "matmul" and culprit.backend == "tf"
    assert (culprit.loc.file, culprit.loc.line) == ("examples/linear_classifier.nn", 10)
    assert culprit.loc.span.source.line_text(10).strip().startswith("return x @ W + b")
