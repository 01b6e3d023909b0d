"""Colour in CLI diagnostics: ANSI codes only when stderr is a terminal that wants them
(never when piped or with NO_COLOR), and a coloured rendering that is the plain one
once its escapes are stripped, with the source line coloured by the highlighter the
caller passes (the editor's, over the Pygments lexer, in the installed `dslc`)."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_dslc
from dslc.compiler.editor.highlight import terminal_highlighter
from dslc.compiler.pipeline import compile_text
from dslc.dsl.diagnostics import render, render_all, supports_color
from dslc.dsl.parser import parse

ANSI = re.compile(r"\x1b\[[0-9;]*m")
SHAPE_ERROR = """\
model M(x: f32[B, 2]) -> f32[B, 1] {
    param W: f32[3, 1] = zeros
    return x @ W
}
"""
SYNTAX_ERRORS = "model M(x: f32[B, 2]) {\n    return x @@ 2\n}\nlayer L( {\n"
HIGHLIGHT = terminal_highlighter()


def shape_diagnostics():
    return compile_text(SHAPE_ERROR, "bad.nn", lambda *_: None).diagnostics


@pytest.mark.parametrize("diags", [shape_diagnostics(), parse(SYNTAX_ERRORS, "s.nn").diagnostics],
                         ids=["shape", "syntax"])
def test_colour_adds_only_escapes(diags):
    assert diags
    plain = render_all(diags)
    coloured = render_all(diags, color=True, highlight=HIGHLIGHT)
    assert ANSI.search(coloured)
    assert ANSI.sub("", coloured) == plain
    for diag in diags:
        text = render(diag, color=True, highlight=HIGHLIGHT)
        assert ANSI.sub("", text) == render(diag) == str(diag)


def test_colour_marks_header_carets_and_source():
    assert HIGHLIGHT is not None, "the test environment installs pygments"
    text = render(shape_diagnostics()[0], color=True, highlight=HIGHLIGHT)
    assert text.startswith("\x1b[1;31merror[E")
    assert "\x1b[1;31m^^^^^" in text
    assert "\x1b[1;34m-" in text
    source_line = next(line for line in text.splitlines() if "param" in line)
    assert ANSI.search(source_line.split("|", 1)[1]), "the source excerpt is not highlighted"


def test_colour_without_a_highlighter_keeps_the_ansi_header(monkeypatch):
    monkeypatch.setitem(sys.modules, "pygments", None)
    assert terminal_highlighter() is None
    diag = shape_diagnostics()[0]
    text = render(diag, color=True, highlight=None)
    assert text.startswith("\x1b[1;31merror[E")
    assert ANSI.sub("", text) == render(diag)
    source_line = next(line for line in text.splitlines() if "param" in line)
    assert "    param W: f32[3, 1] = zeros" in source_line


def test_the_highlighter_is_used_only_for_colour():
    def fail(line: str) -> str:
        raise AssertionError(f"highlighted without colour: {line!r}")

    diags = shape_diagnostics()
    assert render_all(diags, highlight=fail) == render_all(diags)


def test_a_clean_check_does_not_build_the_lexer(tmp_path):
    good = tmp_path / "good.nn"
    good.write_text("fn f(x: f32[N]) -> f32[N] = relu(x)\n")
    probe = ("import sys\nfrom dslc.compiler.cli import main\n"
             f"status = main(['check', {str(good)!r}])\n"
             "print(status, 'dslc.compiler.editor.pygments_lexer' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    assert result.stdout.splitlines()[-1] == "0 False", result.stderr


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_supports_color_needs_a_terminal_and_no_NO_COLOR(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert supports_color(FakeTerminal())
    assert not supports_color(io.StringIO())
    monkeypatch.setenv("TERM", "dumb")
    assert not supports_color(FakeTerminal())
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("NO_COLOR", "1")
    assert not supports_color(FakeTerminal())


def test_piped_cli_output_has_no_escapes(tmp_path):
    bad = tmp_path / "bad.nn"
    bad.write_text(SHAPE_ERROR)
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    script = Path(sys.executable).parent / "dslc"
    result = subprocess.run([str(script), "check", str(bad)], capture_output=True, text=True,
                            env={**env, "TERM": "xterm-256color"}, timeout=300)
    assert result.returncode == 1 and "error[E" in result.stderr
    assert "\x1b" not in result.stderr
    with_no_color = run_dslc("check", str(bad))
    assert "\x1b" not in with_no_color.stderr


def _stderr_on_a_terminal(path: Path, **env_changes) -> str:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(TERM="xterm-256color", **env_changes)
    primary, secondary = pty.openpty()
    script = Path(sys.executable).parent / "dslc"
    try:
        subprocess.run([str(script), "check", str(path)], stdout=subprocess.DEVNULL,
                       stderr=secondary, env=env, timeout=300)
    finally:
        os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    return b"".join(chunks).decode()


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_terminal_cli_output_is_coloured_unless_NO_COLOR(tmp_path):
    bad = tmp_path / "bad.nn"
    bad.write_text(SHAPE_ERROR)
    coloured = _stderr_on_a_terminal(bad)
    assert "\x1b[1;31merror[E" in coloured
    source_line = next(line for line in coloured.splitlines() if "param" in line)
    assert ANSI.search(source_line.split("|", 1)[1]), "the source excerpt is not highlighted"
    assert "\x1b" not in _stderr_on_a_terminal(bad, NO_COLOR="1")
