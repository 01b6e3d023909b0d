"""dslc reads and writes only what it may. `import` (`compiler/source_files.py`) reads
`.nn` files, by relative paths, inside the folder of the program given to dslc,
regular files under a size limit, opened without blocking; a refused import is E0501
at the `import` line and never shows the file's contents, in the compiler and in the
language server. Text from the file reaches the terminal with its control characters
escaped. Outputs that are inputs, links, or folders that are not artifacts are
refused, and an artifact killed mid-write stays whole."""

from __future__ import annotations

import os
from pathlib import Path

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


TERMINAL_ATTACKS = ("\x1b]0;pwned\x07", "\x1b[2J", "\x1b[8m", "\r", "\u202e", "\x9b31m")


@pytest.mark.parametrize("attack", TERMINAL_ATTACKS)
def test_control_characters_from_the_file_reach_the_terminal_escaped(tmp_path, attack):
    main = tmp_path / "main.nn"
    main.write_text(f'# {attack} a comment\nimport "{attack}.nn"\n{MAIN}', encoding="utf-8")
    result = run_dslc("check", str(main), timeout=60)
    shown = result.stderr + result.stdout
    assert result.returncode == 1 and attack not in shown
    if attack != "\r":  # a line break to the lexer, so not inside a string
        assert "E0501" in result.stderr
        assert attack.encode("unicode_escape").decode("ascii") in shown


# -- writes: what dslc refuses to overwrite, and whole artifacts under kill -9 -------

TRAINED = 'import "lib/twice.nn"\n' + MAIN + """
train M {
    data       = two_blobs(per_class=20, seed=0)
    loss       = mse
    optimizer  = SGD(learning_rate=0.01)
    batch_size = 8
    epochs     = 1
}
"""


@pytest.fixture
def trained(project):
    main = project / "main.nn"
    main.write_text(TRAINED)
    return main


@pytest.mark.parametrize("args, message", [
    (["train", "{main}", "--steps", "1", "--history", "{main}"], "it is an input of this run"),
    (["train", "{main}", "--steps", "1", "--history", "{lib}"], "it is an input of this run"),
    (["train", "{main}", "--steps", "1", "--history", "{dir}/nowhere/h.json"],
     "its folder does not exist"),
    (["train", "{main}", "--steps", "1", "--history", "{dir}/link_out.nn"],
     "it is a symbolic link"),
    (["train", "{main}", "--steps", "1", "--history", "{dir}/lib"], "it is a folder"),
    (["{main}", "--emit", "torch", "-o", "{main}"], "it is an input of this run"),
    (["{main}", "-o", "{dir}/lib"], "not a dslc artifact (--force replaces it)"),
    (["{main}", "-o", "{main}"], "it is an input of this run"),
    (["{main}", "-o", "{dir}/dir_out"], "it is a symbolic link"),
    (["train", "{main}", "--steps", "1", "--history", "{dir}/fifo.nn"],
     "it is not a regular file"),
    (["{main}", "--emit", "tf", "-o", "{dir}/fifo.nn"], "it is not a regular file"),
])
def test_outputs_that_would_destroy_something_are_refused(trained, args, message):
    project = trained.parent
    before = {p: p.read_bytes() for p in project.rglob("*") if p.is_file() and not p.is_fifo()
              and p.name != "big.nn"}
    values = {"main": str(trained), "lib": str(project / "lib" / "twice.nn"),
              "dir": str(project)}
    result = run_dslc(*[a.format(**values) for a in args], timeout=120)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert {p: p.read_bytes() for p in before} == before


def test_force_replaces_a_folder_that_is_not_an_artifact(trained, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("x")
    assert run_dslc(str(trained), "-o", str(out), timeout=120).returncode == 1
    assert run_dslc(str(trained), "-o", str(out), "--force", timeout=120).returncode == 0
    assert (out / "manifest.json").exists() and not (out / "precious.txt").exists()


def test_a_recompile_killed_at_any_moment_leaves_a_whole_artifact(trained, tmp_path):
    import random
    import signal
    import subprocess
    import sys
    import time

    from dslc.runtime.artifact import load

    out = tmp_path / "out"
    assert run_dslc(str(trained), "-o", str(out), timeout=120).returncode == 0
    script = Path(sys.executable).parent / "dslc"
    rng = random.Random(0)
    for _ in range(6):
        process = subprocess.Popen([str(script), str(trained), "-o", str(out)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 4.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        artifact = load(out)
        for name in artifact.function_names:
            artifact.function(name)  # every file present and matching its digest


# -- imports at scale: diamonds once per file, nesting bounded ----------------------


def test_an_import_diamond_is_collected_once_per_file(tmp_path, monkeypatch):
    from dslc.compiler.frontend import program as frontend_program

    levels = 20
    (tmp_path / "l0.nn").write_text("fn f0(x) = x\n")
    for i in range(1, levels + 1):
        for side in "ab":
            (tmp_path / f"{side}{i}.nn").write_text(f'import "l{i - 1}.nn"\n')
        (tmp_path / f"l{i}.nn").write_text(f'import "a{i}.nn"\nimport "b{i}.nn"\n')
    main = tmp_path / "main.nn"
    main.write_text(f'import "l{levels}.nn"\nfn g(x: f32[]) -> f32[] = f0(x)\n')
    calls = []
    definitions = frontend_program.definitions
    monkeypatch.setattr(frontend_program, "definitions",
                        lambda module: calls.append(module) or definitions(module))
    compilation = compile_text(main.read_text(), str(main))
    assert compilation.ok, render_all(compilation.diagnostics)
    assert len(calls) <= 5 * levels  # about one per import edge (4 a level), not 2**levels


def test_imports_nested_too_deep_are_refused_not_a_crash(tmp_path):
    depth = 300
    for i in range(depth):
        (tmp_path / f"c{i}.nn").write_text(f'import "c{i + 1}.nn"\n')
    (tmp_path / f"c{depth}.nn").write_text("fn deep(x) = x\n")
    main = tmp_path / "main.nn"
    main.write_text('import "c0.nn"\n')
    result = run_dslc("check", str(main), timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "E0501" in result.stderr and "imports nest more than 64 files deep" in result.stderr


def test_imports_are_parsed_once_while_their_text_stays_the_same(tmp_path, monkeypatch):
    from dslc.compiler.frontend import program as frontend_program

    (tmp_path / "lib.nn").write_text(LIB)
    main = tmp_path / "main.nn"
    parsed = []
    parse = frontend_program.parse
    monkeypatch.setattr(frontend_program, "parse",
                        lambda text, name: parsed.append(name) or parse(text, name))
    frontend_program.parse_import.cache_clear()
    for version in range(5):  # an editor's keystrokes in the importing document
        text = f'import "lib.nn"\n{MAIN}# edit {version}\n'
        assert compile_text(text, str(main)).diagnostics == []
    assert sum(name.endswith("lib.nn") for name in parsed) == 1
    (tmp_path / "lib.nn").write_text(LIB + "# changed\n")
    assert compile_text(f'import "lib.nn"\n{MAIN}', str(main)).diagnostics == []
    assert sum(name.endswith("lib.nn") for name in parsed) == 2


def test_an_output_that_cannot_be_written_is_an_error_not_a_crash(trained):
    result = run_dslc(str(trained), "-o", "/proc/dslc-cannot-write-here", timeout=120)
    assert result.returncode == 1 and "will not write -o /proc/dslc-cannot-write-here: its folder is not writable" in result.stderr
    assert "Traceback" not in result.stderr and "E0900" not in result.stderr
