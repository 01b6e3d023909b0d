"""The prelude (`compiler/prelude/*.nn`, the standard library written in `.nn`) parsed
once per process, and the definitions of a parsed module by name (`FnRef`, `LayerRef`,
`ModelRef`). Used by the program lowering, Keras' string names and the editor tooling.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from ...dsl import ast, parse
from .values import PRELUDE_PREFIX, FnRef, LayerRef, ModelRef

# The prelude's files, one per kind of definition (the editor tooling reads the kinds).
PRELUDE = ("activations", "layers", "losses", "metrics")


@functools.cache
def prelude() -> dict[str, ast.Module]:
    """The parsed prelude files (`compiler/prelude/KIND.nn`) by kind."""
    modules = {}
    for kind in PRELUDE:
        text = resources.files("dslc.compiler").joinpath("prelude", f"{kind}.nn").read_text()
        result = parse(text, f"{PRELUDE_PREFIX}{kind}.nn")
        if result.diagnostics:
            raise RuntimeError(f"the prelude file {kind}.nn does not parse:\n"
                               + "\n".join(map(str, result.diagnostics)))
        modules[kind] = result.module
    return modules


@functools.cache
def prelude_definitions() -> dict[str, Any]:
    """Every prelude definition by name, read once per process."""
    return {k: v for m in prelude().values() for k, v in definitions(m).items()}


def definitions(module: ast.Module) -> dict[str, Any]:
    table = {}
    for item in module.items:
        if isinstance(item, ast.FnDef):
            table[item.name] = FnRef(item)
        elif isinstance(item, ast.LayerDef):
            table[item.name] = LayerRef(item)
        elif isinstance(item, ast.ModelDef):
            table[item.name] = ModelRef(item)
    return table


