"""The README's snippets run as written: every ```sh and ```python block, in the order
of the README, in one temporary folder holding a copy of `examples/` (the README's
commands name files relative to the repository), with the checkout's `dslc` on the PATH,
as a reader following along would run them. A ```dslc block whose first line is a
comment naming a file (`# points.nn`) is written there first. The blocks that are not
run are listed in SKIPPED, each with its reason."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

FENCE = re.compile(r"^```(?!`)([\w-]*)[^\n`]*\n(.*?)^```\s*$", re.M | re.S)
NAMED_FILE = re.compile(r"#\s*([\w.-]+\.nn)\s*\n")

# The first line of each block left out, and why.
SKIPPED = {
    "make run": "builds .venv and runs the whole suite; tests/test_install.py installs dslc "
                "the same way and runs `dslc train`",
    "cd compiler/editor/vscode": "needs node, npm and VS Code (`code`); "
                                "tests/test_editor_vsix.py builds the extension",
    "make bench": "the benchmarks take minutes and time a shared machine; bench/run.py is "
                  "their own check",
    "# on host-a": "two machines side by side; tests/test_multiprocess.py runs two processes "
                   "over localhost the same way",
}


def blocks() -> list[tuple[str, str]]:
    return [(m[1], m[2]) for m in FENCE.finditer((ROOT / "README.md").read_text("utf-8"))]


def runnable() -> list[tuple[str, str]]:
    return [(language, code) for language, code in blocks()
            if language in ("sh", "python", "dslc")
            and not any(code.startswith(first) for first in SKIPPED)]


def test_every_skip_names_a_block_of_the_readme():
    firsts = [code.splitlines()[0] for _, code in blocks() if code.strip()]
    for first in SKIPPED:
        assert any(line.startswith(first) for line in firsts), first


def test_every_data_source_is_documented_with_its_arguments():
    from dslc.compiler.data_sources import DATA_SOURCES

    readme = (ROOT / "README.md").read_text("utf-8")
    for name, source in DATA_SOURCES.items():
        shown = ", ".join(p if d.__class__.__name__ == "_Required" else
                          f"{p}={str(d).lower() if isinstance(d, bool) else repr(d).replace(chr(39), chr(34))}"
                          for p, d in source.params.items())
        assert f"`{name}({shown})`" in readme, f"{name}({shown})"


def test_readme_snippets_run_as_written(tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "NO_COLOR": "1",
           "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])}
    if not (bin_dir / "dslc").exists():  # a checkout without the console script installed
        shim = tmp_path / "bin" / "dslc"
        shim.parent.mkdir()
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m dslc.compiler.cli "$@"\n')
        shim.chmod(0o755)
        env["PATH"] = os.pathsep.join([str(shim.parent), env["PATH"]])
    ran = 0
    for language, code in runnable():
        if language == "dslc":
            if named := NAMED_FILE.match(code):
                (tmp_path / named[1]).write_text(code, encoding="utf-8")
            continue
        command = ["bash", "-e", "-o", "pipefail", "-c", code] if language == "sh" \
            else [sys.executable, "-c", code]
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=900)
        assert result.returncode == 0, f"README block failed:\n{code}\n{result.stdout[-2000:]}" \
                                       f"\n{result.stderr[-4000:]}"
        assert "Traceback" not in result.stderr, code
        ran += 1
    assert ran >= 6
    assert (tmp_path / "points_boundary.png").exists() and (tmp_path / "curves.png").exists()
