"""What the front end's evaluator works in: the IR function being traced (`Trace`, with
the params and layers it collects), the names in scope (`Scope`), and the hook through
which an editor watches evaluation (`Observer`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...dsl.diagnostics import suggest
from ..builder import Builder
from ..ir import Function, Loc, TensorType, Value
from .errors import fail


@dataclass
class ParamSpec:
    """A `param` (or `state`) met while tracing: its path (`simple_dense/W`), type,
    initializer (a `Spec`), the argument of the traced function that stands for it, and
    its sharding (a mesh axis name or None per dim; None: replicated)."""

    path: str
    type: TensorType
    init: Any
    loc: Loc
    value: Value
    sharding: tuple[str | None, ...] | None = None


@dataclass
class LayerRecord:
    """One layer call, for `--emit summary`."""

    name: str
    layer: str
    output: str
    params: int
    depth: int


@dataclass
class Naming:
    """The names of the layers one layer call's body configures, in order: recorded by
    a layer's first call, replayed (`replay`) by its later ones."""

    replay: list[str] | None
    names: list[str] = field(default_factory=list)

    def next(self, fresh) -> str:
        """The replayed name at this point, else `fresh()`; recorded either way."""
        replayed = self.replay is not None and len(self.names) < len(self.replay)
        self.names.append(self.replay[len(self.names)] if replayed else fresh())
        return self.names[-1]


@dataclass
class Trace:
    """The IR function under construction and what tracing it collects: `params` (and
    `states`) are None outside a model (a `fn`, a train setting), where `param` and
    `state` are refused.

    A model is traced once per mode: `training` is the value `.nn` code reads as
    `training` (`mode_read` says whether it did). `updates` maps a state's path to its
    new value (and the `update` statement's span); `rng` is the function's random seed
    argument, added by the first random draw, and `draws` numbers the draws' streams.
    `layer_paths` maps each layer's path to the one instance that owns it; `naming`
    holds a `Naming` per layer call in progress."""

    function: Function
    params: dict[str, ParamSpec] | None = None
    states: dict[str, ParamSpec] | None = None
    training: bool = False
    mode_read: bool = False
    updates: dict[str, tuple[Value, Any]] = field(default_factory=dict)
    rng: Value | None = None
    draws: int = 0
    prefix: list[str] = field(default_factory=list)
    layer_counts: dict[str, int] = field(default_factory=dict)
    layer_paths: dict[str, Any] = field(default_factory=dict)
    layers: list[LayerRecord] = field(default_factory=list)
    naming: list[Naming] = field(default_factory=list)

    def builder(self, span) -> Builder:
        return Builder(self.function, Loc.of(span))


class Observer:
    """What an editor learns from one compilation: the front end calls these as it
    evaluates (the language server records them for hover). Every method is a no-op
    here; with no observer (`None`, the default) compilation does none of this work."""

    def on_value(self, node, value) -> None:
        """`node` (an AST expression) evaluated to `value` (a tensor or a compile-time
        value); called again each time the node is evaluated (e.g. a layer used twice)."""

    def on_binding(self, name: str, span, value) -> None:
        """`name`, written at `span`, was bound to `value` (an assignment, a parameter of
        a fn, layer or model, a layer's configuration)."""

    def on_param(self, stmt, spec) -> None:
        """The `param` statement `stmt` declared `spec` (a `ParamSpec`)."""

    def on_layer(self, span, instance, record) -> None:
        """A layer call at `span` of the configured `instance` gave `record`."""


class Scope:
    """Names visible in a body: its own bindings, then the globals."""

    def __init__(self, globals_: dict[str, Any], values: dict[str, Any] | None = None):
        self.globals = globals_
        self.values = dict(values or {})

    def lookup(self, name: str, span) -> Any:
        if name in self.values:
            return self.values[name]
        if name in self.globals:
            return self.globals[name]
        hint = suggest(name, list(self.values) + list(self.globals))
        raise fail("E0101", f"cannot find `{name}` in this scope", span, "not found",
                   help=hint)

    def bind(self, name: str, value: Any, span) -> None:
        if name in self.values:
            raise fail("E0103", f"`{name}` is already bound in this scope", span,
                       "bound again here", help="bindings are single assignment: pick a new name")
        self.values[name] = value
