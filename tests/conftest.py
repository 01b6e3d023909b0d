"""Shared fixtures: the `--update-goldens` switch, the examples, JAX in float64 for the
numeric op tests, and a runner for the real `dslc` command in a subprocess."""

from __future__ import annotations

import os

# Keras oracle tests run Keras 3 on JAX; the backend is fixed when keras is first imported.
os.environ.setdefault("KERAS_BACKEND", "jax")

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.nn"))


def pytest_addoption(parser):
    parser.addoption("--update-goldens", action="store_true",
                     help="rewrite golden files from the current output")


@pytest.fixture(scope="session")
def update_goldens(request) -> bool:
    return bool(request.config.getoption("--update-goldens")
                or os.environ.get("DSLC_UPDATE_GOLDENS"))


@pytest.fixture(scope="module")
def jax_float64():
    """JAX with x64 enabled for one module (`pytestmark = pytest.mark.usefixtures(...)`),
    so that references in float64 are not rounded to float32."""
    import jax
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", previous)


def check_golden(path: Path, actual: str, update: bool) -> None:
    """Compares `actual` with the golden file at `path` exactly (or rewrites it)."""
    if update or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        if not update:
            pytest.fail(f"golden file {path.relative_to(ROOT)} was missing; written now")
        return
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{path.relative_to(ROOT)} differs (run with --update-goldens)"


def run_dslc(*args: str, cwd: Path | None = None, timeout: int = 300):
    """Runs the installed `dslc` command, as a user would, returning the process."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("DSLC_BACKTRACE", None)
    script = Path(sys.executable).parent / "dslc"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "dslc.compiler.cli"]
    return subprocess.run([*command, *args],
                          capture_output=True, text=True, cwd=cwd or ROOT, env=env,
                          timeout=timeout)
