"""The layering the design states, checked where a contract cannot see it: `dslc check`
type-checks without loading a framework, and the data sources the front end declares
are the ones the runtime implements, with the same parameters and defaults."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys

from conftest import EXAMPLES, ROOT
from dslc.compiler import data_sources
from dslc.runtime import data as runtime_data

FRAMEWORKS = ("jax", "jaxlib", "tensorflow", "torch", "keras")


def imported_modules(*argv: str) -> set[str]:
    """Every module a real `dslc` run imports, from CPython's `-X importtime` log."""
    process = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dslc.compiler.cli", *argv],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert process.returncode == 0, process.stderr[-2000:]
    return set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)", process.stderr, re.M))


def test_check_loads_no_framework():
    modules = imported_modules("check", *map(str, EXAMPLES))
    assert "dslc.compiler.frontend.program" in modules  # the log is read right
    loaded = {m for m in modules if m.split(".")[0] in FRAMEWORKS}
    assert not loaded, f"`dslc check` imported {sorted(loaded)[:5]}"
    assert not {m for m in modules if m.startswith("dslc.runtime")}


def test_data_sources_declared_are_the_runtimes():
    declared, implemented = data_sources.DATA_SOURCES, runtime_data.DATA_SOURCES
    assert set(declared) == set(implemented)
    for name, source in declared.items():
        runtime = implemented[name]
        expected = {k: (runtime_data.REQUIRED if v is data_sources.REQUIRED else v)
                    for k, v in source.params.items()}
        assert list(runtime.parameters.items()) == list(expected.items()), name
        assert runtime.uses_base_dir == source.reads_files, name
        annotations = inspect.signature(runtime.function).parameters
        for param, kind in source.kinds.items():
            spelled = {"names": "str | list[str]"}.get(kind, kind)
            assert annotations[param].annotation == spelled, (name, param)
