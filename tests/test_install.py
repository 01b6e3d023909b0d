"""What users install: the wheel built from the tracked files, installed (with the
`editor` extra) into a fresh virtual environment, run from another folder. Every entry
point works there: `dslc check`, `dslc train`, `dslc lsp` start-up, the Pygments lexer
by its entry point, and the embedding API. And the package list in pyproject.toml is
the package tree, so that no subpackage can be left out of the wheel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT

TIMEOUT = 600


UNTRACKED = {".git", ".venv", "node_modules", "__pycache__", "build", "dist", ".pytest_cache",
             ".hypothesis"}


def tracked_files() -> list[str]:
    """The files git tracks; outside a git checkout, every file but the ignored kinds."""
    try:
        result = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        result = None
    if result is not None and result.returncode == 0:
        return [name for name in result.stdout.splitlines() if (ROOT / name).is_file()]
    return [str(path.relative_to(ROOT)) for path in ROOT.rglob("*")
            if path.is_file() and not UNTRACKED & set(path.relative_to(ROOT).parts)
            and not any(part.endswith(".egg-info") for part in path.parts)]


def test_the_package_list_is_the_package_tree():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())
                 ["tool"]["setuptools"]["packages"])
    tree = {"dslc"} | {
        "dslc." + ".".join(Path(name).parent.parts)
        for name in tracked_files()
        if name.endswith("/__init__.py") and not name.startswith("tests/")}
    assert listed == tree


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(bin folder of a fresh venv with the built wheel installed, a working folder
    outside the checkout holding a copy of the examples)."""
    base = tmp_path_factory.mktemp("install")
    source = base / "source"
    for name in tracked_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "-q", "-w", str(base / "dist"), str(source)],
                   check=True, capture_output=True, timeout=TIMEOUT)
    (wheel,) = (base / "dist").glob("dslc-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True,
                   timeout=TIMEOUT)
    bin_dir = base / "venv" / "bin"
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q",
                    f"{wheel}[editor]"], check=True, capture_output=True, timeout=TIMEOUT)
    work = base / "work"
    shutil.copytree(ROOT / "examples", work / "examples")
    return bin_dir, work


def run(installed, *command, stdin: bytes | None = None):
    bin_dir, work = installed
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", NO_COLOR="1")
    return subprocess.run(command, cwd=work, env=env, input=stdin, capture_output=True,
                          timeout=TIMEOUT)


def test_the_installed_package_is_not_the_checkout(installed):
    result = run(installed, "python", "-c", "import dslc; print(dslc.__file__)")
    assert result.returncode == 0, result.stderr
    assert "site-packages" in result.stdout.decode() and str(ROOT) not in result.stdout.decode()


def test_check_and_train_run_from_another_folder(installed):
    result = run(installed, "dslc", "check", "examples/mlp.nn")
    assert result.returncode == 0, result.stderr
    result = run(installed, "dslc", "train", "examples/linear_classifier.nn", "--steps", "3",
                 "--quiet")
    assert result.returncode == 0, result.stderr
    assert b"final: " in result.stdout and b" loss: " in result.stdout


def test_the_language_server_starts_and_answers(installed):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                       "params": {"processId": None, "capabilities": {}}}).encode()
    exit_ = json.dumps({"jsonrpc": "2.0", "method": "exit"}).encode()
    frames = b"".join(b"Content-Length: %d\r\n\r\n" % len(b) + b for b in (body, exit_))
    result = run(installed, "dslc", "lsp", stdin=frames)
    assert b'"capabilities"' in result.stdout, result.stderr


def test_the_pygments_lexer_is_found_by_its_entry_point(installed):
    result = run(installed, "pygmentize", "-l", "dslc", "-f", "raw",
                 "examples/linear_classifier.nn")
    assert result.returncode == 0, result.stderr
    assert b"Token.Keyword" in result.stdout


def test_the_embedding_api(installed):
    code = ("import dslc\n"
            "program = dslc.compile('examples/linear_classifier.nn')\n"
            "params = program.init(0)\n"
            "print(sorted(params), program.predict(params, [[1.0, 2.0]]).shape)\n")
    result = run(installed, "python", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == "['W', 'b'] (1, 1)"
