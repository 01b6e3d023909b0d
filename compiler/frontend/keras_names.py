"""Keras' string identifiers: `Dense(10, activation="relu")` in a layer's configuration,
`loss = "huber"` and `metrics = ["binary_accuracy"]` in a train block.

The one place that decides what such a string names: a definition of the prelude file
of its kind (`activations.nn`, `losses.nn`, `metrics.nn`) that can be called with the
arguments its caller gives (one tensor for an activation; y_true and y_pred for a loss
or metric), one of `BUILTIN_ACTIVATIONS`, or a metric class of `compiler/metrics.py` by
its class name or the snake-case one Keras also accepts (`"AUC"`, `"auc"`). Anything else is E0403 at the string,
with the nearest name.
"""

from __future__ import annotations

import functools
from typing import Any

from ...dsl import ast
from ...dsl.diagnostics import suggest
from ..metrics import METRICS
from .builtins import builtin_globals
from .errors import fail
from .prelude_files import definitions, prelude

# Prelude file, and how many arguments without a default its callables take.
KINDS = {"activation": ("activations", 1), "loss": ("losses", 2), "metric": ("metrics", 2)}
# Keras activations that are ops, not prelude definitions.
BUILTIN_ACTIVATIONS = ("sigmoid", "tanh", "softplus")
# A layer's configuration parameters that Keras resolves with `activations.get`.
ACTIVATION_PARAMS = ("activation", "recurrent_activation")


@functools.cache
def keras_names(kind: str) -> dict[str, Any]:
    """Name -> value of every string Keras accepts for `kind`."""
    file, required = KINDS[kind]
    module = prelude()[file]
    table = definitions(module)
    fns = {item.name: item for item in module.items if isinstance(item, ast.FnDef)}

    def callable_with(fn: ast.FnDef, seen=()) -> bool:
        if fn.params is None:  # an alias, `fn swish = silu`
            (target,) = [s for s in fn.body if isinstance(s, ast.Return)][0].values
            return (isinstance(target, ast.Name) and target.id in fns
                    and target.id not in seen and callable_with(fns[target.id], seen + (fn.name,)))
        return sum(p.default is None for p in fn.params) == required

    names = {name: value for name, value in table.items()
             if name in fns and callable_with(fns[name])}
    if kind == "activation":
        names.update({name: builtin_globals()[name] for name in BUILTIN_ACTIVATIONS})
    if kind == "metric":
        names.update({name: builtin_globals()[cls] for cls, record in METRICS.items()
                      for name in (cls, record.name)})
    return names


def named(value: Any, kind: str, span) -> Any:
    """`value`, or the definition a string `value` names as a Keras `kind`."""
    if not isinstance(value, str):
        return value
    names = keras_names(kind)
    if value not in names:
        raise fail("E0403", f"unknown {kind} `\"{value}\"`", span, f"not a Keras {kind} name",
                   help=suggest(value, names, f"Keras {kind}") or f"{kind}s are {', '.join(sorted(names))}")
    return names[value]
