"""Compile-time values of the front end's evaluator.

A `.nn` expression evaluates either to an IR `Value` (a tensor, staged into the IR) or
to something known at compile time: a number, a list, a dtype, a symbolic dim, or a
callable (a builtin, a user `fn`, a `layer` and its configured instances, a `grad`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from ...dsl import ast
from .. import dims
from ..ir import Value


# Source names of the prelude's files (`<prelude>/layers.nn`).
PRELUDE_PREFIX = "<prelude>/"


@dataclass(frozen=True)
class DimSym:
    """A symbolic dimension used as a value, e.g. in `reshape(x, [B, H * W])`: `name`
    is the dim, a symbol (`B`) or arithmetic on symbols (`H * W`)."""

    name: dims.Dim

    def __str__(self) -> str:
        return dims.format_dim(self.name)

    @staticmethod
    def wrap(dim):
        """`dim` as a compile-time value: an int stays an int."""
        return dim if dims.is_concrete(dim) else DimSym(dim)


@dataclass(frozen=True)
class Dtype:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Signature:
    """Parameter names with defaults (`REQUIRED` for none) of a compile-time callable."""

    params: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, *names: str, **defaults: Any) -> Signature:
        return cls(tuple((n, REQUIRED) for n in names) + tuple(defaults.items()))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.params)


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()


@dataclass(frozen=True)
class Builtin:
    """A function implemented by the compiler: `impl(call, **bound_args)`. A builtin
    that names a component (an initializer, optimizer or data source) has its `spec_kind`
    and its record in `component`; calling it configures a `Spec`."""

    name: str
    signature: Signature
    impl: Callable[..., Any]
    doc: str = ""
    spec_kind: str | None = None
    component: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class FnRef:
    """A user or prelude `fn`."""

    definition: ast.FnDef


@dataclass(frozen=True)
class LayerRef:
    """A `layer` definition; calling it with configuration gives a `LayerInstance`."""

    definition: ast.LayerDef


@dataclass(frozen=True)
class ModelRef:
    definition: ast.ModelDef


@dataclass(eq=False)
class LayerInstance:
    """A configured layer: `SimpleDense(512, activation=relu)`; calling it with tensors
    inlines its body once, with its own parameters. `children` holds the names its
    first call gave the layers its body configures, which a later call gives them again
    (so a shared layer shares its sub-layers' weights too)."""

    definition: ast.LayerDef
    config: dict[str, Any]
    span: Any
    name: str | None = None
    children: list[str] | None = None


@dataclass(frozen=True)
class GradOf:
    """`grad(f)` or `value_and_grad(f)`: differentiate `target` in its `argnums`."""

    target: Any
    argnums: tuple[int, ...] = (0,)
    with_value: bool = False
    has_aux: bool = False


@dataclass(eq=False)
class Configured:
    """A `fn` called with keyword arguments only, each naming a parameter that has a
    default (`Huber(delta=2.0)`, `relu(max_value=6.0)`): Keras' loss classes. `kwargs`
    maps a name to its (value, span); calling it with the remaining arguments calls the
    fn with both. `definition` is the fn's, so it names itself like the fn."""

    target: FnRef
    kwargs: dict[str, tuple[Any, Any]]
    span: Any

    @property
    def definition(self) -> ast.FnDef:
        return self.target.definition


@dataclass(frozen=True)
class Spec:
    """A configured component named in a `train` block or a `param` initializer:
    `kind` is "initializer", "optimizer", "schedule" (an optimizer's `learning_rate`),
    "metric", "data" or "callback"; `component` is its record (an `Initializer`,
    `Optimizer`, `Schedule`, `Metric`, `DataSource` or `CallbackRecord`); `args` are
    compile-time values, a schedule among them, `arg_spans` where the call gave them."""

    kind: str
    name: str
    component: Any = field(compare=False)
    args: dict[str, Any] = field(default_factory=dict)
    span: Any = field(default=None, compare=False)
    arg_spans: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        """`{"name": ..., "args": {...}}`, a `Spec` argument nested the same way."""
        return {"name": self.name, "args": {k: v.to_json() if isinstance(v, Spec) else v
                                            for k, v in self.args.items()}}


def as_spec(value: Any, kind: str, span) -> Spec | None:
    """`value` as a `Spec` of `kind`: a configured one, or a bare name with defaults."""
    if isinstance(value, Spec) and value.kind == kind:
        return value
    if isinstance(value, Builtin) and value.spec_kind == kind:
        return Spec(kind, value.name, value.component, dict(value.signature.params), span)
    return None


class _Training:
    def __repr__(self) -> str:
        return "training"


# `training`: true while a model is traced for `train_step`, false for `predict` and
# `eval_step`. The evaluator replaces it by the trace's bool where it is read.
TRAINING = _Training()


@dataclass(frozen=True)
class Namespace:
    """Builtins reached by attribute (`random.dropout`): `members` name -> value."""

    name: str
    members: dict[str, Any] = field(compare=False)


class _All:
    def __repr__(self) -> str:
        return "all"


ALL = _All()  # `batch_size = all`: the whole data set in one batch


def kind_name(value: Any) -> str:
    """How a value is described in diagnostics."""
    if isinstance(value, Value):
        return f"a tensor `{value.type}`"
    if value is None:
        return "`none`"
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int):
        return "an int"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, DimSym):
        return f"the symbolic dim `{value.name}`"
    if isinstance(value, Dtype):
        return "a dtype"
    if isinstance(value, Builtin):
        return f"the builtin `{value.name}`"
    if isinstance(value, FnRef):
        return f"the fn `{value.definition.name}`"
    if isinstance(value, LayerRef):
        return f"the layer `{value.definition.name}`"
    if isinstance(value, ModelRef):
        return f"the model `{value.definition.name}`"
    if isinstance(value, LayerInstance):
        return f"a `{value.definition.name}` layer"
    if isinstance(value, GradOf):
        return "a gradient function"
    if isinstance(value, Configured):
        return f"the configured fn `{value.definition.name}`"
    if isinstance(value, Spec):
        return f"the {value.kind} `{value.name}`"
    if isinstance(value, Namespace):
        return f"the namespace `{value.name}`"
    return type(value).__name__


def callable_name(func) -> str:
    """The `.nn` name of a callable, looking through `grad`."""
    while isinstance(func, GradOf):
        func = func.target
    definition = getattr(func, "definition", None)
    return getattr(definition, "name", None) or getattr(func, "name", "fn")


def snake_case(name: str) -> str:
    """Keras' `to_snake_case`: `Conv2D` is `conv2d`, `Conv2DTranspose` `conv2d_transpose`."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
