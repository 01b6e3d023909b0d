"""The `dslc` command's contract: exit codes 0/1/2/3, `explain`, `check`, diagnostics
with file:line:col and never a traceback, and internal errors reported as such."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from dslc.compiler import cli, driver

from conftest import ROOT, run_dslc


def test_usage_errors_exit_2(tmp_path):
    assert run_dslc().returncode == 2
    assert run_dslc("examples/linear_classifier.nn", "--target", "tpx").returncode == 2
    result = run_dslc("examples/linear_classifier.nn", "--emit", "ir-after=nope")
    assert result.returncode == 2 and "stages are frontend" in result.stderr
    assert run_dslc("train", "examples/mlp.nn", "--steps", "0").returncode == 2
    assert run_dslc("explain", "E9999").returncode == 2


def test_version_and_help():
    assert run_dslc("--version").stdout.startswith("dslc ")
    help_text = run_dslc("--help").stdout
    for command in ("compile", "train", "check", "explain", "lsp"):
        assert command in help_text


def test_commands_added_above_the_driver_are_dispatched():
    seen = []
    greet = driver.Command("greet", "say hello", lambda parser: parser.add_argument("name"),
                           lambda session: seen.append(session.args.name) or 0)
    assert driver.main(["greet", "world"], commands=(greet,)) == 0
    assert seen == ["world"]


def test_lsp_without_pygls_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pygls", None)
    assert cli.main(["lsp", "--stdio"]) == 2
    err = capsys.readouterr().err
    assert "the language server needs pygls: pip install 'dslc[editor]'" in err


def test_explain_prints_the_long_explanation():
    result = run_dslc("explain", "E0203")
    assert result.returncode == 0
    assert "matmul" in result.stdout.lower()
    assert run_dslc("explain", "0203").stdout == result.stdout


def test_check_reports_each_file(tmp_path):
    good = tmp_path / "good.nn"
    good.write_text("fn f(x: f32[N]) -> f32[N] = relu(x)\n")
    bad = tmp_path / "bad.nn"
    bad.write_text("fn f(x: f32[N]) -> f32[N] = relux(x)\n")
    result = run_dslc("check", str(good), str(bad))
    assert result.returncode == 1
    assert f"{good}: ok" in result.stdout
    assert f"{bad}:1:29" in result.stderr and "`relu`" in result.stderr


@pytest.mark.parametrize("content", [
    "", "\x00\x01\x02", "model", "model M(x: f32[N, 2]) -> f32[N, 1] {",
    "fn f(x) = " + "(" * 10_000 + "x" + ")" * 10_000,
    "fn f(x: f32[N]) -> f32[N] = " + "relu(" * 3_000 + "x" + ")" * 3_000,
    "train Nothing { steps = 1 }",
    "fn f(x: f32[N]) -> f32[N] = x\nfn f(x: f32[N]) -> f32[N] = x\n",
])
def test_hostile_input_gives_a_diagnostic_never_a_traceback(tmp_path, content):
    path = tmp_path / "hostile.nn"
    path.write_text(content, encoding="utf-8", errors="surrogateescape")
    result = run_dslc("check", str(path))
    assert "Traceback" not in result.stderr
    if result.returncode == 1:
        assert "hostile.nn:" in result.stderr and "error[E" in result.stderr
    else:
        assert result.returncode == 0, result.stderr


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.nn"
    path.write_bytes("\ufefffn f(x: f32[N]) -> f32[N] = relux(x)\n".encode("utf-8"))
    result = run_dslc("check", str(path))
    assert result.returncode == 1 and "bom.nn:1:29" in result.stderr  # columns as shown


def test_unreadable_inputs(tmp_path):
    assert run_dslc("check", str(tmp_path / "missing.nn")).returncode == 1
    assert run_dslc("check", str(tmp_path)).returncode == 1
    binary = tmp_path / "binary.nn"
    binary.write_bytes(b"\xff\xfe\x00model")
    result = run_dslc("check", str(binary))
    assert result.returncode == 1 and "not UTF-8" in result.stderr


def test_internal_errors_exit_3_and_say_so(monkeypatch, capsys):
    from dslc.compiler import commands

    def broken(session):
        session.last_ir = "func @f() -> () {\n  return\n}\n"
        raise ZeroDivisionError("a bug in a pass")

    monkeypatch.setattr(commands, "check_command", broken)
    monkeypatch.delenv("DSLC_BACKTRACE", raising=False)
    assert driver.main(["check", "examples/mlp.nn"]) == 3
    err = capsys.readouterr().err
    assert "error[E0900]: internal compiler error: ZeroDivisionError: a bug in a pass" in err
    assert "IR at the time of the error" in err and "func @f" in err
    assert "Traceback" not in err


def trained_on(npz_path: str) -> str:
    """A linear model trained on `npz(npz_path)`, its `data` line at 6:12."""
    return ("model M(x: f32[N, 2]) -> f32[N, 1] {\n    param W: f32[2, 1] = zeros\n"
            "    return x @ W\n}\n"
            f"train M {{\n    data = npz(\"{npz_path}\")\n    loss = mse\n    steps = 1\n}}\n")


def test_train_errors_in_data_are_diagnostics(tmp_path):
    path = tmp_path / "npz_missing.nn"
    path.write_text(trained_on("nowhere.npz"))
    result = run_dslc("train", str(path))
    assert result.returncode == 1
    assert "error[E0406]" in result.stderr and "npz_missing.nn:6:12" in result.stderr


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.float32(1.0), "y": np.zeros((3, 1), np.float32)}, "`x` is a single number"),
    ({"x": np.array(["a", "b"]), "y": np.zeros((2, 1), np.float32)}, "holds <U1 values"),
])
def test_train_on_npz_contents_that_are_not_data_gives_a_diagnostic(tmp_path, arrays, message):
    np.savez(tmp_path / "data.npz", **arrays)
    path = tmp_path / "model.nn"
    path.write_text(trained_on("data.npz"))
    result = run_dslc("train", str(path))
    assert result.returncode == 1, result.stderr
    assert "error[E0406]" in result.stderr and "model.nn:6:12" in result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_diverging_run_stops_keeps_its_history_and_exits_1(tmp_path):
    source = ROOT / "tests" / "diagnostics" / "compile" / "E0407_diverges.nn"
    history = tmp_path / "history.json"
    result = run_dslc("train", str(source), "--history", str(history), "--quiet")
    assert result.returncode == 1, result.stderr
    assert "error[E0407]: the loss became inf at step 4" in result.stderr
    assert "E0407_diverges.nn:9:18" in result.stderr and "Traceback" not in result.stderr
    losses = json.loads(history.read_text())["loss"]
    assert len(losses) == 4 and losses[-1] is None  # stopped after it, as TerminateOnNaN
