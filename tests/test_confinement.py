"""`import` reads only what it may (`compiler/source_files.py`): `.nn` files, by relative
paths, inside the folder of the program given to dslc, regular files under a size
limit, opened without blocking. A refused import is E0501 at the `import` line and
never shows the file's contents, in the compiler and in the language server."""

from __future__ import annotations

import os

import pytest

from conftest import run_dslc
from dslc.compiler.editor.lsp.analysis import Analysis
from dslc.compiler.pipeline import compile_text
from dslc.compiler.source_files import MAX_SOURCE_BYTES
from dslc.dsl.diagnostics import render_all

SECRET = "TOKEN_THAT_MUST_NOT_LEAK"
LIB = "layer Twice() {\n    (x: f32[B, D]) -> f32[B, D]\n    return x + x\n}\n"
MAIN = "model M(x: f32[N, 2]) -> f32[N, 2] {\n    return x |> Twice()\n}\n"


@pytest.fixture
def project(tmp_path):
    """`outside/` holds a secret and a valid library; `project/` is the program's
    folder, with links that lead out of it."""
    outside, project = tmp_path / "outside", tmp_path / "project"
    outside.mkdir()
    project.mkdir()
    (outside / "secret.nn").write_text(f"{SECRET} = 1\n")
    (outside / "lib.nn").write_text(LIB)
    (project / "lib").mkdir()
    (project / "lib" / "twice.nn").write_text(LIB)
    (project / "notes.txt").write_text(f"{SECRET}\n")
    (project / "link_out.nn").symlink_to(outside / "secret.nn")
    (project / "dir_out").symlink_to(outside)
    (project / "zero.nn").symlink_to("/dev/zero")
    (project / "big.nn").write_text("# x\n" * (MAX_SOURCE_BYTES // 4 + 1))
    os.mkfifo(project / "fifo.nn")
    return project


def diagnose(project, spelled: str):
    main = project / "main.nn"
    main.write_text(f'import "{spelled}"\n{MAIN}')
    compilation = compile_text(main.read_text(), str(main))
    return compilation.diagnostics, render_all(compilation.diagnostics)


@pytest.mark.parametrize("spelled, reason", [
    ("../outside/secret.nn", "outside the program's folder"),
    ("lib/../../outside/lib.nn", "outside the program's folder"),
    ("link_out.nn", "outside the program's folder"),
    ("dir_out/lib.nn", "outside the program's folder"),
    ("/etc/passwd.nn", "absolute"),
    ("/proc/self/environ", "absolute"),
    ("~/x.nn", "absolute"),
    ("notes.txt", "only `.nn` files"),
    ("zero.nn", "outside the program's folder"),  # a link to /dev/zero
    ("fifo.nn", "not a regular file"),
    ("big.nn", "larger than 1024 KiB"),
])
def test_refused_imports_are_diagnosed_without_their_contents(project, spelled, reason):
    diagnostics, text = diagnose(project, spelled)
    assert [d.code for d in diagnostics] == ["E0501"], text
    assert reason in diagnostics[0].message and "main.nn:1:1" in text
    assert SECRET not in text


def test_imports_inside_the_folder_still_work(project):
    diagnostics, text = diagnose(project, "lib/twice.nn")
    assert diagnostics == [], text
    (project / "lib" / "nested.nn").write_text('import "twice.nn"\n')
    diagnostics, text = diagnose(project, "lib/nested.nn")
    assert diagnostics == [], text


def test_the_cli_refuses_and_exits_1(project):
    (project / "main.nn").write_text(f'import "../outside/secret.nn"\n{MAIN}')
    result = run_dslc("check", str(project / "main.nn"), timeout=60)
    assert result.returncode == 1 and "E0501" in result.stderr
    assert SECRET not in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_the_language_server_follows_the_same_rules(project):
    main = project / "main.nn"
    text = f'import "link_out.nn"\nimport "lib/twice.nn"\n{MAIN}'
    main.write_text(text)
    analysis = Analysis(main.as_uri(), str(main), text)
    assert analysis.resolve_import("link_out.nn") is None
    assert analysis.resolve_import("fifo.nn") is not None  # a path; reading it is refused
    assert analysis.resolve_import("lib/twice.nn") == str(project / "lib" / "twice.nn")
    messages = [d.message for d in analysis.lsp_diagnostics()]
    assert any("outside the program's folder" in m for m in messages)
    assert not any(SECRET in m for m in messages)
