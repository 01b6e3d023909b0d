"""IR-to-IR passes and the pipeline that runs them.

Each pass maps a `Function` to a new `Function`; `run_pipeline` applies a list of them
by name to every function of a module, with a hook between passes for dumps
(`--emit ir-after=PASS`) and for the verifier in tests.
"""

from __future__ import annotations

from typing import Callable, Iterable

from ..ir import Function, Module
from .canonicalize import Canonicalize, canonicalize
from .cse import cse
from .dce import dce
from .inline import map_regions

Pass = Callable[[Function], Function]

PASSES: dict[str, Pass] = {
    "canonicalize": canonicalize,
    "cse": cse,
    "dce": dce,
}

DEFAULT_PIPELINE = ("canonicalize", "cse", "dce")


def run_pipeline(module: Module, names: Iterable[str] = DEFAULT_PIPELINE,
                 after: Callable[[str, Module], None] | None = None) -> Module:
    """Runs the passes `names`, in order, on every function of `module` and on the
    regions of its nodes (replacing them in place) and returns it; `after(pass_name, module)` is called after each pass."""
    names = tuple(names)
    unknown = [n for n in names if n not in PASSES]
    if unknown:
        raise ValueError(f"unknown pass {', '.join(map(repr, unknown))}; "
                         f"passes are {', '.join(PASSES)}")
    for name in names:
        for key, fn in list(module.functions.items()):
            module.functions[key] = PASSES[name](map_regions(fn, PASSES[name]))
        if after is not None:
            after(name, module)
    return module


__all__ = ["PASSES", "DEFAULT_PIPELINE", "Canonicalize", "run_pipeline", "canonicalize",
           "cse", "dce"]
