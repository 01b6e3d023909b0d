"""Golden diagnostics for a corpus of broken programs: one file at least per error
code, each compared exactly with its `.expected` rendering (`--update-goldens`
rewrites them). Programs that compile but fail at training time are checked through
the data loading the `train` command does (E0406), or by training them (E0407)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dslc.compiler.api import Program
from dslc.compiler.pipeline import compile_text
from dslc.compiler.training import TrainError, load_data, nonfinite_loss
from dslc.dsl import CODES, render_all

from conftest import ROOT, check_golden, run_dslc

CORPUS = ROOT / "tests" / "diagnostics"
COMPILE_CASES = sorted((CORPUS / "compile").glob("*.nn"))


def diagnose(path: Path) -> str:
    compilation = compile_text(path.read_text(encoding="utf-8"), path.name)
    diagnostics = list(compilation.diagnostics)
    if compilation.ok and compilation.train is not None:
        program = Program(compilation)
        try:
            load_data(program)
            if compilation.train.validation_data is not None:
                load_data(program, "validation_data")
            if path.stem.startswith("E0407"):
                diagnostics.append(nonfinite_loss(program, program.fit(log=None, verbose=0)))
        except TrainError as error:
            diagnostics.extend(error.diagnostics)
    assert diagnostics, f"{path.name} compiled without a diagnostic"
    return render_all(diagnostics)


@pytest.mark.parametrize("path", COMPILE_CASES, ids=lambda p: p.stem)
def test_compile_diagnostics_match_goldens(path, update_goldens, monkeypatch):
    monkeypatch.chdir(path.parent)  # imports resolve beside the file, names stay short
    check_golden(path.with_suffix(".expected"), diagnose(path), update_goldens)


def test_every_error_code_has_a_golden():
    expected = "".join(p.read_text() for p in CORPUS.rglob("*.expected"))
    missing = [code for code in CODES if code != "E0900" and f"[{code}]" not in expected]
    assert not missing, f"no golden diagnostic for {missing}"


def test_file_name_prefix_is_the_code_reported():
    for path in COMPILE_CASES:
        code = path.stem.split("_")[0]
        if code in CODES:
            assert f"error[{code}]" in path.with_suffix(".expected").read_text(), path.name


@pytest.mark.parametrize("name", ["E0203_matmul", "E0302_keyword", "several_errors"])
def test_cli_reports_the_same_diagnostics(name):
    path = CORPUS / "compile" / f"{name}.nn"
    result = run_dslc("check", path.name, cwd=path.parent)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == path.with_suffix(".expected").read_text().strip()


def test_errors_inside_the_prelude_point_at_the_users_call():
    text = "model M(x: f32[N, 3]) -> f32[N, 2] {\n    return x |> Dense(-1)\n}\n"
    compilation = compile_text(text, "user.nn")
    (diagnostic,) = compilation.diagnostics
    assert diagnostic.span.source.name == "user.nn" and diagnostic.span.line == 2
    assert diagnostic.label == "in this call to `Dense`"
    assert diagnostic.secondary[0].span.source.name == "<prelude>/layers.nn"


def test_every_model_is_checked_even_when_none_is_compiled():
    text = ("model A(x: f32[N, 3]) -> f32[N, 3] {\n    return x\n}\n"
            "model B(x: f32[N, 3]) -> f32[N, 1] {\n    return x\n}\n")
    compilation = compile_text(text, "two.nn")
    assert [(d.code, d.span.line) for d in compilation.diagnostics] == [("E0206", 5)]
