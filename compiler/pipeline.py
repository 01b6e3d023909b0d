"""The whole compilation, source text to optimized IR, shared by the CLI and the API.

Runs parse (dsl), the front end (AST to IR, with autodiff for gradients and
`train_step`), then the pass pipeline; `after` sees the module after each stage, which
is how `--emit ir-after=STAGE` and the verifier in tests hook in.
"""

from __future__ import annotations

import contextlib
import gc
from dataclasses import dataclass, field
from typing import Callable

from ..dsl import Diagnostic, ast, parse
from .frontend import lower_program
from .frontend.train import TrainConfig
from .ir import Module
from .passes import DEFAULT_PIPELINE, run_pipeline

# Stages that `--emit ir-after=STAGE` can show: the front end's output, then each pass.
STAGES = ("frontend",) + DEFAULT_PIPELINE


@dataclass
class Compilation:
    path: str
    text: str
    ast: ast.Module | None = None
    module: Module | None = None
    train: TrainConfig | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)  # the paths of the files it imports

    @property
    def ok(self) -> bool:
        return self.module is not None and not self.diagnostics


def compile_text(text: str, path: str,
                 after: Callable[[str, Module], None] | None = None,
                 observer=None) -> Compilation:
    """`observer` (a `frontend.evaluate.Observer`, for editors) sees what the front end
    evaluates; without one, compilation does no extra work."""
    with collector_paused():
        return _compile(text, path, after, observer)


@contextlib.contextmanager
def collector_paused():
    """Nodes and their result values point at each other, so a large program makes
    Python's cycle collector run over and over while it is built; it runs again, once,
    when compilation is over."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _compile(text: str, path: str, after, observer=None) -> Compilation:
    result = Compilation(path, text)
    parsed = parse(text, path)
    result.ast = parsed.module
    result.diagnostics.extend(parsed.diagnostics)
    if parsed.module is None or parsed.diagnostics:
        return result
    lowered = lower_program(parsed.module, path, observer)
    result.imported = list(lowered.sources)
    result.diagnostics.extend(lowered.diagnostics)
    if lowered.module is None or lowered.diagnostics:
        return result
    if after is not None:
        after("frontend", lowered.module)
    result.module = run_pipeline(lowered.module, DEFAULT_PIPELINE, after)
    result.train = lowered.train
    return result
