"""The fuzz target: one input through the whole front end, as `dslc check` runs it.

An input passes when it compiles or ends in diagnostics that render; it fails (a
crash) on any exception or an internal-error diagnostic (E0900). Used by
`tests/fuzz/run.py` (atheris, coverage-guided, and Hypothesis, from the grammar) and,
over the kept corpus, by `tests/test_fuzz.py`.
"""

from __future__ import annotations

import os
import tempfile

from dslc.compiler.pipeline import compile_text
from dslc.dsl import render_all

# A program's imports resolve in an empty folder of its own: nothing outside is read.
FOLDER = tempfile.mkdtemp(prefix="dslc-fuzz-")
PATH = os.path.join(FOLDER, "fuzz.nn")


class Crash(Exception):
    """The front end failed on an input in a way no input may make it fail."""


def check_text(text: str) -> None:
    compilation = compile_text(text, PATH)
    render_all(compilation.diagnostics)
    internal = [d for d in compilation.diagnostics if d.code == "E0900"]
    if internal:
        raise Crash(f"internal error: {internal[0].message}")


def check_bytes(data: bytes) -> None:
    """Bytes as `dslc` reads a file: UTF-8 (with a byte order mark), else refused."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return
    check_text(text)
