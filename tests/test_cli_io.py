"""Input and output never look like a compiler bug: the real `dslc` in subprocesses with
outputs it cannot write (a missing folder, a read-only one, a folder where a file goes),
output into a closed pipe, and a `.nn` file that is not UTF-8 (E0006 at its first bad
byte, a golden under tests/diagnostics/encoding)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, check_golden, run_dslc

ENCODING = ROOT / "tests" / "diagnostics" / "encoding"


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder no file can be created in: chmod 555, or for root (whom permission bits
    do not stop) sysfs, which refuses new files to everyone."""
    if os.geteuid() == 0:
        yield Path("/sys")
        return
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


def output_cases(tmp_path, read_only):
    missing, folder = tmp_path / "nowhere" / "out", tmp_path
    return [
        (["train", "examples/mlp.nn", "--history", f"{missing}.json"], "its folder does not exist"),
        (["train", "examples/mlp.nn", "--history", f"{read_only}/h.json"], "its folder is not writable"),
        (["train", "examples/mlp.nn", "--history", str(folder)], "it is a folder"),
        (["examples/mlp.nn", "--emit", "tf", "-o", f"{missing}.py"], "its folder does not exist"),
        (["examples/mlp.nn", "--emit", "torch", "-o", f"{read_only}/m.py"], "its folder is not writable"),
        (["examples/mlp.nn", "--emit", "torch", "-o", str(folder)], "it is a folder"),
        (["examples/mlp.nn", "-o", str(missing)], "its folder does not exist"),
        (["examples/mlp.nn", "-o", f"{read_only}/artifact"], "its folder is not writable"),
        (["examples/mlp.nn", "--emit", "ir", "-o", f"{read_only}/artifact"], "its folder is not writable"),
    ]


def test_outputs_that_cannot_be_written_are_refused_before_any_work(tmp_path, read_only_folder):
    for args, reason in output_cases(tmp_path, read_only_folder):
        result = run_dslc(*args)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stdout == "", args  # nothing trained, nothing emitted
        line, = result.stderr.splitlines()
        assert line.startswith("dslc: error: will not write ") and line.endswith(reason), line


def dslc_command() -> list[str]:
    script = Path(sys.executable).parent / "dslc"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dslc.compiler.cli"]


@pytest.mark.parametrize("args", [["train", "examples/linear_classifier.nn", "--steps", "2"],
                                  ["compile", "--emit", "ir", "examples/mlp.nn"]])
def test_output_into_a_closed_pipe_ends_quietly(args):
    reader, writer = os.pipe()
    os.close(reader)  # nobody will read: every write fails with EPIPE
    result = subprocess.run([*dslc_command(), *args], stdout=writer, stderr=subprocess.PIPE,
                            cwd=ROOT, timeout=300, text=True)
    os.close(writer)
    assert result.returncode == 0 and result.stderr == ""


@pytest.mark.skipif(shutil.which("head") is None, reason="needs the `head` command")
@pytest.mark.parametrize("command", ["train examples/mlp.nn --epochs 3",
                                     "compile --emit ir examples/mlp.nn"])
def test_output_through_head_ends_quietly(command):
    line = " ".join(dslc_command()) + f" {command} | head -1; exit ${{PIPESTATUS[0]}}"
    result = subprocess.run(["bash", "-c", line], capture_output=True, text=True, cwd=ROOT,
                            timeout=300)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.count("\n") == 1


def test_a_file_that_is_not_utf8_is_reported_at_its_first_bad_byte(update_goldens):
    result = run_dslc("check", "E0006_latin1.nn", cwd=ENCODING)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    check_golden(ENCODING / "E0006_latin1.expected", result.stderr, update_goldens)
    assert " --> E0006_latin1.nn:2:10" in result.stderr


def test_an_import_that_is_not_utf8_names_the_line_and_column(tmp_path):
    (tmp_path / "lib.nn").write_bytes(b"fn f(x) = x\n# \xff\n")
    (tmp_path / "main.nn").write_text('import "lib.nn"\nfn g(x) = f(x)\n')
    result = run_dslc("check", "main.nn", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "not UTF-8 text (line 2, column 3)" in result.stderr
