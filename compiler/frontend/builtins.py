"""The builtin names of `.nn` code that the compiler implements (not the prelude).

Tensor functions are IR ops, their builtins generated from the registry
(`op_builtins.py`); initializers, optimizers, metric classes and data sources (their
records in `compiler/initializers.py`, `optimizers.py`, `metrics.py`,
`data_sources.py`) evaluate to `Spec`s that carry the record; dtypes and `grad` are
compile-time values. The table is built once (`builtin_globals`); the prelude
(`compiler/prelude/*.nn`) adds the rest.
"""

from __future__ import annotations

import functools
import types
from typing import Any, Mapping

from ...dsl.diagnostics import suggest
from .. import dims
from ..callbacks import CALLBACKS
from ..data_sources import DATA_SOURCES, REQUIRED as DATA_REQUIRED
from ..initializers import ALIASES as INIT_ALIASES, INITIALIZERS
from ..ir import DTYPES
from ..metrics import METRICS
from ..optimizers import ALIASES as OPT_ALIASES, OPTIMIZERS
from .attention_builtins import ATTENTION_FUNCTIONS
from ..schedules import REQUIRED as SCHEDULE_REQUIRED, SCHEDULES
from .binding import CallSite
from .errors import fail
from .list_builtins import LIST_FUNCTIONS
from .loops import scan_builtin
from .op_builtins import op_builtins
from .random_draws import RANDOM
from .values import (ALL, REQUIRED, TRAINING, Builtin, Configured, DimSym, Dtype, FnRef,
                     GradOf, LayerInstance, ModelRef, Signature, Spec, kind_name,
                     snake_case)
from .window_builtins import WINDOW_FUNCTIONS


def _flatten(c: CallSite, x):
    """Keeps the first dim and flattens the rest, like Keras' Flatten."""
    x = c.tensor("x", x)
    return c.b.emit("reshape", x, shape=(x.type.shape[0], dims.product(x.type.shape[1:])))


def _axis(c: CallSite, x, axis) -> int:
    if not isinstance(axis, int) or isinstance(axis, bool) or not -x.type.rank <= axis < x.type.rank:
        raise c.fail("E0208", f"axis `{axis}` is out of range for `{x.type}`", "axis",
                     help=f"axes of a rank-{x.type.rank} tensor run from {-x.type.rank} to "
                     f"{x.type.rank - 1}")
    return axis % x.type.rank


def _axes_except(c: CallSite, x, axis):
    x = c.tensor("x", x)
    kept = _axis(c, x, axis)
    return [i for i in range(x.type.rank) if i != kept]


def _feature_shape(c: CallSite, x, axis):
    x = c.tensor("x", x)
    kept = _axis(c, x, axis)
    return [DimSym.wrap(d) if i == kept else 1 for i, d in enumerate(x.type.shape)]


def spelled(value) -> str:
    """A compile-time option as `.nn` writes it: `"concat"`, `false`, `2`."""
    if isinstance(value, str):
        return f'"{value}"'
    return str(value).lower() if isinstance(value, bool) else str(value)


def _choice(c: CallSite, value, options, name="value"):
    """`value`, when it is one of `options` (compile-time values); a layer's check of a
    string option such as `merge_mode`, reported at the user's call."""
    if not isinstance(options, list) or not options:
        raise c.fail("E0304", f"`choice` takes a non-empty list of options, found "
                     f"{kind_name(options)}", "options")
    return one_of(c, "value", value, options, f"`{name}`")


def one_of(c: CallSite, arg: str, value, options, what: str):
    """`value` if it is one of `options`; else E0304 ("`what` should be one of ...")
    at the argument `arg`, with the nearest option."""
    if value not in options:
        shown = ", ".join(map(spelled, options))
        plain = isinstance(value, (str, bool, int, float))
        found = spelled(value) if plain else kind_name(value)
        strings = [o for o in options if isinstance(o, str)]
        raise c.fail("E0304", f"{what} should be one of {shown}, found {found}", arg,
                     help=suggest(value, strings) if isinstance(value, str) else None)
    return value


def _shape(c: CallSite, x):
    return [DimSym.wrap(d) for d in c.tensor("x", x).type.shape]


def _grad_of(with_value: bool):
    def impl(c: CallSite, f, argnums=0, has_aux=False):
        if not isinstance(f, (FnRef, Configured, GradOf, ModelRef, Builtin, LayerInstance)):
            raise c.fail("E0305", f"`grad` takes a function, found {kind_name(f)}", "f")
        nums = tuple(argnums) if isinstance(argnums, list) else (argnums,)
        if not nums or not all(isinstance(n, int) and not isinstance(n, bool) for n in nums):
            raise c.fail("E0304", f"`argnums` should be an int or a non-empty list of ints, "
                         f"found {kind_name(argnums)}", "argnums",
                         help="`argnums=1` differentiates the second argument")
        return GradOf(f, nums, with_value=with_value, has_aux=bool(has_aux))
    return impl


def _moveaxis(c: CallSite, x, source, destination):
    """NumPy's `moveaxis`: the axis `source` moved to `destination`, by a transpose."""
    x = c.tensor("x", x)
    rank = x.type.rank
    for arg, axis in (("source", source), ("destination", destination)):
        if not (isinstance(axis, int) and not isinstance(axis, bool) and -rank <= axis < rank):
            raise c.fail("E0304", f"`{arg}` should be an axis of `{x.type}`, found "
                         f"{axis if isinstance(axis, int) else kind_name(axis)}", arg,
                         help=f"axes are from {-rank} to {rank - 1}")
    perm = [i for i in range(rank) if i != source % rank]
    perm.insert(destination % rank, source % rank)
    if perm == list(range(rank)):
        return x
    return c.b.emit("transpose", x, perm=tuple(perm))


# Builtin functions that are not one op (the ops' builtins come from the registry,
# `op_builtins.py`): name, signature, implementation, one-line doc.
def renamed_layer(c, layer, prefix, reverse=False) -> LayerInstance:
    """`renamed_layer(LSTM(4), "backward_", reverse=true)`: a new instance of the same
    layer and configuration (its own weights), named `prefix` + the layer's name (Keras'
    wrappers name their copies so); `reverse` flips its `go_backwards`."""
    if not isinstance(layer, LayerInstance):
        raise c.fail("E0304", f"expected a configured layer, found {kind_name(layer)}",
                     "layer", help="e.g. `Bidirectional(LSTM(8))`")
    config = dict(layer.config)
    if reverse is True:
        if "go_backwards" not in config:
            raise c.fail("E0304", f"`{layer.definition.name}` has no `go_backwards`", "layer",
                         help="the layer must be a recurrent one: SimpleRNN, LSTM or GRU")
        config["go_backwards"] = not config["go_backwards"]
    base = layer.name or snake_case(layer.definition.name)
    return LayerInstance(layer.definition, config, layer.span, f"{prefix}{base}")


FUNCTIONS = (
    ("flatten", Signature.of("x"), _flatten, "flattens all but the first dim"),
    ("shape", Signature.of("x"), _shape, "the dims of a tensor, as a list"),
    ("choice", Signature.of("value", "options", name="value"), _choice,
     "`value` if it is one of the list `options`, else an error naming `name`"),
    ("axes_except", Signature.of("x", "axis"), _axes_except,
     "every axis of a tensor but `axis`, as a list"),
    ("feature_shape", Signature.of("x", "axis"), _feature_shape,
     "the shape that broadcasts a vector along `axis` against a tensor: 1s elsewhere"),
    ("moveaxis", Signature.of("x", "source", "destination"), _moveaxis,
     "the axis `source` moved to `destination`"),
    ("grad", Signature.of("f", argnums=0, has_aux=False), _grad_of(False),
     "the gradient of `f` in argument `argnums`"),
    ("value_and_grad", Signature.of("f", argnums=0, has_aux=False), _grad_of(True),
     "`f`'s value and gradient"),
    ("renamed_layer", Signature.of("layer", "prefix", reverse=False), renamed_layer,
     "a copy of a configured layer with its own weights, named `prefix` + its name; "
     "`reverse` flips its `go_backwards`"),
    ("scan", Signature.of("f", "init", "xs", reverse=False), scan_builtin,
     "a loop: `f(carry, x)` over the first axis of `xs`, giving the final carry and the "
     "stacked outputs"),
)


def _configure(kind: str, name: str, component, kinds: dict[str, str]):
    def impl(c: CallSite, **args):
        for arg, value in args.items():
            if kinds.get(arg) and arg in c.arg_spans:  # given, not a default
                check_arg_kind(c, arg, value, kinds[arg], f"`{name}`")
        for arg, options in getattr(component, "choices", {}).items():
            one_of(c, arg, args[arg], options, f"`{name}`'s `{arg}`")
        for arg in getattr(component, "counts", ()):
            if args[arg] < 0:
                raise c.fail("E0304", f"`{name}`'s `{arg}` should be 0 or more, found "
                             f"`{args[arg]}`", arg)
        # A metric checks its arguments together (`compiler.metrics.Metric.check`);
        # optimizers and schedules refuse some values, or combinations, as Keras does.
        if kind == "metric" and (problem := component.check(args)):
            raise argument_error(name, component, args, problem,
                                 c.arg_spans.get(problem[0], c.span), "this argument")
        check = getattr(component, "check", None)
        if kind != "metric" and check is not None and (problem := check(args)):
            arg, message, label, hint = problem
            raise c.fail("E0304", f"`{name}`: {message}", arg, label, help=hint)
        return Spec(kind, name, component, args, c.span, dict(c.arg_spans))
    return impl


# What an argument of an initializer, optimizer or data source must be, by the kind of
# its default (or, for a data source, its declared kind): these reach the runtime as
# Python values, so a `relu` or a list there would only fail later, inside JAX.
ARG_KINDS: dict[str, str] = {"int": "an integer", "float": "a number",
                             "bool": "`true` or `false`", "str": "a string",
                             "names": "a string or a non-empty list of strings",
                             "freq": '`"epoch"` or a positive integer',
                             "optional": "a number or `none`",
                             "numbers": "a non-empty list of numbers",
                             "rate": "a number or a learning-rate schedule"}
# How to write a value of a kind whose description alone may not tell.
ARG_HINTS: dict[str, str] = {
    "rate": "e.g. `learning_rate=0.01` or "
            "`learning_rate=ExponentialDecay(0.01, decay_steps=100, decay_rate=0.9)`",
    "numbers": "e.g. `[100, 200]`"}
INT32 = range(-2**31, 2**31)
SEEDS = range(0, 2**31)


def arg_kind(default: Any) -> str | None:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, str):
        return "str"
    if default is None:
        return "int"  # the `seed` of an initializer, None meaning "from init's seed"
    return None


def check_arg_kind(c: CallSite, arg: str, value: Any, kind: str, what: str) -> None:
    number = _is_number(value)
    names = isinstance(value, str) or (isinstance(value, list) and bool(value)
                                       and all(isinstance(v, str) for v in value))
    ok = {"int": isinstance(value, int) and number, "float": number,
          "bool": isinstance(value, bool), "str": isinstance(value, str), "names": names,
          "freq": value == "epoch" or (isinstance(value, int) and number and value > 0),
          "optional": number or value is None,
          "numbers": isinstance(value, list) and bool(value) and all(map(_is_number, value)),
          "rate": number or (isinstance(value, Spec) and value.kind == "schedule")}[kind]
    if not ok:
        raise c.fail("E0304", f"{what}'s `{arg}` should be {ARG_KINDS[kind]}, found "
                     f"{kind_name(value)}", arg, f"not {ARG_KINDS[kind]}",
                     help=ARG_HINTS.get(kind))
    # Seeds seed NumPy's generators too, which take no negative seed.
    if kind == "int" and value not in (SEEDS if arg == "seed" else INT32):
        raise c.fail("E0304", f"{what}'s `{arg}` is out of range", arg,
                     help="a seed is from 0 to 2**31 - 1" if arg == "seed"
                     else "it must fit in a 32-bit integer")


def argument_error(name: str, record, args: dict, problem, span, label: str = ""):
    """E0304 for the metric argument `check` refused, with its hint or the signature."""
    arg, should_be, hint = problem
    signature = ", ".join(f"{k}={_describe(v).strip('`')}" for k, v in record.params.items())
    return fail("E0304", f"`{name}`'s `{arg}` should be {should_be}, found "
                f"{_describe(args[arg])}", span, label,
                help=hint or f"Keras' `{name}` takes {signature}")


def _describe(value) -> str:
    """A compile-time value as `.nn` writes it, or its kind."""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, (int, float)):
        return f"`{value}`"
    return kind_name(value)


def _component(kind: str, name: str, component, params: dict[str, Any],
               kinds: dict[str, str | None]) -> Builtin:
    """The builtin that names an initializer, optimizer or data source: called, it
    configures a `Spec` of it; bare, it stands for one with its defaults."""
    signature = Signature(tuple(params.items()))
    return Builtin(name, signature, _configure(kind, name, component, kinds),
                   component.doc, spec_kind=kind, component=component)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _by_defaults(kind: str, name: str, component) -> Builtin:
    """Its arguments' kinds are their defaults' kinds, unless the record says (`kinds`)."""
    return _component(kind, name, component, component.params,
                      {k: arg_kind(v) for k, v in component.params.items()}
                      | getattr(component, "kinds", {}))


def builtin_globals() -> Mapping[str, Any]:
    """Every builtin name with its compile-time value, built once per process."""
    return _builtin_table()


@functools.cache
def _builtin_table() -> Mapping[str, Any]:
    table: dict[str, Any] = dict(op_builtins())
    for name, signature, impl, doc in (FUNCTIONS + WINDOW_FUNCTIONS + LIST_FUNCTIONS
                                       + ATTENTION_FUNCTIONS):
        table[name] = Builtin(name, signature, impl, doc)
    for name in DTYPES:
        table[name] = Dtype(name)
    table["all"] = ALL
    table["training"] = TRAINING
    table[RANDOM.name] = RANDOM
    table["none"] = None  # an option left unset: `output_padding = none`
    for aliases, records, kind in ((INIT_ALIASES, INITIALIZERS, "initializer"),
                                   (OPT_ALIASES, OPTIMIZERS, "optimizer")):
        for name, record in records.items():
            table[name] = _by_defaults(kind, name, record)
        for alias, name in aliases.items():
            table[alias] = _by_defaults(kind, name, records[name])
    for name, record in METRICS.items():
        table[name] = _component("metric", name, record, record.params, {})
    for kind, records, required in (("data", DATA_SOURCES, DATA_REQUIRED),
                                    ("callback", CALLBACKS, DATA_REQUIRED),
                                    ("schedule", SCHEDULES, SCHEDULE_REQUIRED)):
        for name, record in records.items():
            params = {k: (REQUIRED if v is required else v) for k, v in record.params.items()}
            table[name] = _component(kind, name, record, params, record.kinds)
    return types.MappingProxyType(table)
