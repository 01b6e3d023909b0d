"""Layers and their parameters: `Dense(10)` configures a `LayerInstance`; calling it
with tensors runs the layer's body under its own name (`dense_1/W`), where each `param`
becomes an argument of the traced function with its initializer.

Consumes layer definitions and the evaluator (`ev`), whose `calls` binds and runs the
body; produces `ParamSpec`s and `LayerRecord`s in the trace. A `param`'s optional
`sharded [none, "model"]` (one mesh axis of `MESH_AXES` or `none` per dim) is checked
here and kept on its `ParamSpec`, whence it reaches the signature's metadata.
"""

from __future__ import annotations

import math
import re

from ...dsl import ast
from ...dsl.diagnostics import Label
from .. import limits
from ..initializers import INITIALIZERS
from ..ir import MESH_AXES, Loc, Value, format_bytes, itemsize
from .binding import ast_signature, bind_arguments
from . import keras_names
from .errors import fail
from .keras_names import ACTIVATION_PARAMS
from .trace import LayerRecord, Naming, ParamSpec, Scope
from .types import check_kind, element_count, resolve_type
from .values import REQUIRED, LayerInstance, Spec, as_spec, kind_name, snake_case

# One segment of a weight's path: Keras refuses a `/` in a layer's name.
LAYER_NAME = re.compile(r"[^/]+")


def configure_layer(ev, layer: ast.LayerDef, args, kwargs, span) -> LayerInstance:
    """`Layer(config...)`: the configuration bound, defaulted and kind-checked."""
    calls = ev.calls
    kwargs = dict(kwargs)
    name = instance_name(layer, kwargs)
    # A default may configure a layer in turn (`layer L(u = L())`): guard it.
    with calls.entering(layer.name, span):
        values, spans = bind_arguments(ast_signature(layer.params), args, kwargs, span,
                                       f"`{layer.name}`")
        scope = Scope(calls.globals)
        config = {}
        for param in layer.params:
            value = calls.default_or(ev, values[param.name], scope)
            if param.name in ACTIVATION_PARAMS:
                value = keras_names.named(value, "activation", spans.get(param.name, span))
            if param.annotation is not None and param.annotation.dims is None:
                value = check_kind(param.annotation, value, span, param)
            config[param.name] = value
            scope.values[param.name] = value
            if ev.observer is not None:
                ev.observer.on_binding(param.name, param.name_span, value)
    return LayerInstance(layer, config, span, name)


def instance_name(layer: ast.LayerDef, kwargs) -> str | None:
    """Keras' `name=`, which every layer takes: taken out of `kwargs` (unless the layer
    declares a `name` of its own) and checked as one segment of a weight's path."""
    if "name" not in kwargs or any(p.name == "name" for p in layer.params):
        return None
    value, span = kwargs.pop("name")
    if not isinstance(value, str) or not LAYER_NAME.fullmatch(value):
        found = f"`\"{value}\"`" if isinstance(value, str) else kind_name(value)
        raise fail("E0304", f"a layer's `name` should be a non-empty string without `/`, "
                   f"found {found}", span, "not a layer name",
                   help="weights are named by the path of their layers, "
                   "`name=\"query\"` gives `query/kernel`")
    return value


def call_layer(ev, instance: LayerInstance, args, kwargs, span):
    """`instance(x)`: the body run under the instance's name (given at its first call),
    its params collected, and a `LayerRecord` appended."""
    layer = instance.definition
    trace = ev.trace
    if trace.params is None:
        raise fail("E0303", f"the layer `{layer.name}` can only be used inside a model "
                   "or a layer", span)
    if not layer.inputs:
        raise fail("E0601", f"`{layer.name}` has no `(inputs) -> outputs` line",
                   layer.name_span, help="add e.g. `(x: f32[B, in]) -> f32[B, units]`")
    if instance.name is None:
        instance.name = (trace.naming[-1].next(lambda: fresh_name(trace, layer))
                         if trace.naming else fresh_name(trace, layer))
    claim_path(trace, instance, span)
    before = len(trace.params)
    trace.prefix.append(instance.name)
    trace.naming.append(Naming(instance.children))
    try:
        with ev.calls.entering(layer.name, span):
            result = ev.calls.run_signature_body(ev, layer, layer.inputs, layer.outputs,
                                                 dict(instance.config), args, kwargs, span)
    finally:
        trace.prefix.pop()
        naming = trace.naming.pop()
    if instance.children is None:
        instance.children = naming.names
    added = list(trace.params.values())[before:]
    output = result if isinstance(result, Value) else None
    trace.layers.append(LayerRecord(
        instance.name, layer.name, str(output.type) if output is not None else "-",
        sum(element_count(p.type) for p in added), len(trace.prefix)))
    if ev.observer is not None:
        ev.observer.on_layer(span, instance, trace.layers[-1])
    return result


def fresh_name(trace, layer: ast.LayerDef) -> str:
    """Keras' automatic name: the snake-case class name, numbered from its second use."""
    base = snake_case(layer.name)
    count = trace.layer_counts.get(base, 0)
    trace.layer_counts[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def claim_path(trace, instance: LayerInstance, span) -> None:
    """The instance's path (`multi_head_attention/query`) is its own: another layer of
    the same name there would share its weights silently, which Keras refuses too. The
    one exception is the same layer configured at the same place in a later call of a
    shared layer (its `Naming` replays): that is the sub-layer being shared."""
    path = "/".join(trace.prefix + [instance.name])
    owner = trace.layer_paths.setdefault(path, instance)
    replaying = bool(trace.naming) and trace.naming[-1].replay is not None
    if replaying and owner.span == instance.span and owner.definition is instance.definition:
        instance.children = owner.children
    elif owner is not instance:
        raise fail("E0103", f"two layers are named `{path}`", span, "named again here",
                   secondary=[Label(owner.span, "first configured here")],
                   help="give each layer its own `name=`, or call the same layer twice "
                   "to share its weights")


def declare_variable(ev, stmt: ast.ParamDecl | ast.StateDecl, scope: Scope) -> Value:
    """`param W: f32[in, units] = glorot_uniform` (or `state ...`): a new argument of the
    traced function, named by the layer path, with the role `param` or `state`; the
    same path again (a shared layer) gives the same value."""
    trace = ev.trace
    role = "state" if isinstance(stmt, ast.StateDecl) else "param"
    table = trace.params if role == "param" else trace.states
    if table is None:
        raise fail("E0303", f"`{role}` can only be declared in a model or a layer", stmt.span)
    ttype = resolve_type(stmt.type, scope.values, require_concrete=True)
    path = "/".join(trace.prefix + [stmt.name])
    if path in table:
        return table[path].value
    check_param_memory(trace, ttype, stmt)
    init = initializer_spec(ev, stmt.init, scope) if stmt.init is not None else None
    sharding = sharding_spec(ev, stmt.sharding, scope, ttype) if stmt.sharding else None
    loc = Loc.of(stmt.span)
    value = trace.function.add_arg(ttype, path, loc, role=role)
    table[path] = ParamSpec(path, ttype, init, loc, value, sharding)
    if ev.observer is not None:
        ev.observer.on_param(stmt, table[path])
    return value


def update_state(ev, stmt: ast.Update, scope: Scope) -> None:
    """`update moving_mean = expr`: the state's value after a training step. Every
    function reads the state; only `train_step` returns the new values (the others
    trace the update, and dead-code elimination drops it)."""
    trace = ev.trace
    current = scope.lookup(stmt.name, stmt.name_span)
    spec = next((s for s in (trace.states or {}).values() if s.value is current), None)
    if spec is None:
        raise fail("E0303", f"`{stmt.name}` is {kind_name(current)}, not a `state`",
                   stmt.name_span, "cannot be updated",
                   help="`update` gives a new value to a `state` declared in the same "
                   "layer or model")
    value = ev.tensor(ev.expr(stmt.value, scope), stmt.value.span, spec.type.dtype)
    if value.type != spec.type:
        raise fail("E0205", f"the new value of `{stmt.name}` is `{value.type}`, but the state "
                   f"is `{spec.type}`", stmt.value.span, f"this is `{value.type}`",
                   secondary=[Label(spec.loc.span, "declared here")],
                   help="the new value must have the state's dtype and shape")
    if spec.path in trace.updates:
        first = trace.updates[spec.path][1]
        raise fail("E0103", f"`{spec.path}` is given a new value twice in one step",
                   stmt.span, "updated again here", secondary=[Label(first, "first here")],
                   help="a layer with state can be called once per model")
    trace.updates[spec.path] = (value, stmt.span)


def check_param_memory(trace, ttype, stmt) -> None:
    """Refuses, at its `param` (or `state`) line, the variable that takes all of them past
    `DSLC_MAX_PARAM_BYTES` (`limits.py`), before anything is allocated."""
    limit = limits.limit("DSLC_MAX_PARAM_BYTES")
    size = math.prod(ttype.shape) * itemsize(ttype.dtype)
    total = size + sum(math.prod(p.type.shape) * itemsize(p.type.dtype)
                       for table in (trace.params, trace.states or {})
                       for p in table.values())
    if total > limit:
        what = (f"this parameter takes {format_bytes(size)}" if size > limit else
                f"with this parameter the model's parameters take {format_bytes(total)}")
        raise fail("E0207", f"{what}, more than the limit of {format_bytes(limit)}", stmt.span,
                   help="make it smaller, or raise the limit with DSLC_MAX_PARAM_BYTES "
                   "if the machine has the memory")


def sharding_spec(ev, expr, scope: Scope, ttype) -> tuple[str | None, ...] | None:
    """A param's `sharded` list: per dim, the mesh axis that splits it or `none`; the
    whole list `none` leaves the param replicated. An axis splits one dim at most."""
    value = ev.expr(expr, scope)
    if value is None:
        return None
    rank = len(ttype.shape)
    axes = " and ".join(f'"{a}"' for a in MESH_AXES)

    def refuse(message: str, help: str = f"the mesh axes are {axes}; e.g. "
               f"`{example_sharding(rank)}`"):
        return fail("E0304", message, expr.span, "sharding", help=help)

    if not isinstance(value, (list, tuple)):
        raise refuse(f"a sharding is a list of mesh axes or `none`, found {kind_name(value)}")
    if len(value) != len(ttype.shape):
        raise refuse(f"`{ttype}` has {rank} dims, but its sharding lists {len(value)}",
                     help="give one mesh axis or `none` per dim")
    for entry in value:
        if entry is not None and entry not in MESH_AXES:
            shown = f'"{entry}"' if isinstance(entry, str) else kind_name(entry)
            raise refuse(f"{shown} is not a mesh axis")
    named = [e for e in value if e is not None]
    if len(set(named)) < len(named):
        raise refuse("a mesh axis splits two dims of one param", help="name each axis once")
    return tuple(value) if named else None


def example_sharding(rank: int) -> str:
    return "sharded [" + ", ".join(["none"] * (rank - 1) + ['"model"'][:rank]) + "]"


def initializer_spec(ev, expr, scope: Scope) -> Spec:
    """A param's initializer: a configured one, a bare name, or a number (`constant`)."""
    value = ev.expr(expr, scope)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Spec("initializer", "constant", INITIALIZERS["constant"],
                    {"value": float(value)}, expr.span)
    spec = as_spec(value, "initializer", expr.span)
    if spec is None:
        raise fail("E0403", f"expected an initializer, found {kind_name(value)}", expr.span,
                   help=f"initializers are {', '.join(INITIALIZERS)}")
    missing = [k for k, v in spec.args.items() if v is REQUIRED]
    if missing:
        raise fail("E0301", f"initializer `{spec.name}` is missing `{missing[0]}`", expr.span)
    return spec
