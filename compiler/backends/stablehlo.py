"""The StableHLO backend: IR functions to `jax.export` artifacts and StableHLO text.

Consumes IR functions (lowered op by op in `jax_lower.py`); produces shape-polymorphic
exports (each symbolic dim of the IR becomes a `jax.export` symbol shared by all of a
function's arguments), for any platform, including TPU from a CPU-only machine.
"""

from __future__ import annotations

import hashlib
import keyword
import re

import jax
import jax.numpy as jnp
import numpy as np
from jax import export as jax_export

from .. import dims
from ..ir import DTYPES, MESH_AXES, Function, Module, TensorType
from .jax_lower import lower_function, precision

# `--target` names to the platform names of `jax.export`.
PLATFORMS = {"cpu": "cpu", "gpu": "cuda", "tpu": "tpu"}
# Names the shape-polymorphism parser of jax.export reserves for its own functions.
_RESERVED_SYMBOLS = {"mod", "floordiv", "max", "min", "non_negative", "non_negative_int"}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def numpy_dtype(dtype: str):
    return jnp.bfloat16 if dtype == "bf16" else np.dtype(DTYPES[dtype])


def export_symbols(function: Function) -> dict[str, str]:
    """IR symbol -> the name it gets in the export (a safe identifier)."""
    names = {}
    for index, symbol in enumerate(function.symbols):
        safe = (_IDENTIFIER.match(symbol) and not keyword.iskeyword(symbol)
                and symbol not in _RESERVED_SYMBOLS)
        names[symbol] = symbol if safe else f"dim{index}"
    return names


def input_specs(function: Function, batch_multiple: int = 1) -> list[jax.ShapeDtypeStruct]:
    """One abstract value per argument; symbols share one `jax.export` scope, and an
    expression dim (`H * W`) is computed from them by JAX's own dim arithmetic. A
    symbolic batch (the first dim of an input or target) is `batch_multiple` times its
    symbol, so that it splits over that many devices. Each expression dim of a value
    the function computes (a convolution's `(H - 3) / 2 + 1`) is constrained to be
    >= 1, as the shape rules require of an integer one, so that JAX's shape checks can
    decide it."""
    names = export_symbols(function)
    if not names:
        return [jax.ShapeDtypeStruct(tuple(arg.type.shape), numpy_dtype(arg.type.dtype))
                for arg in function.args]
    spelled = ", ".join(names.values())
    batches = {arg.type.shape[0] for arg in function.args
               if arg.role in ("input", "target") and arg.type.shape}

    def symbols(constraints=()):
        values = dict(zip(names, jax_export.symbolic_shape(spelled, constraints=constraints)))
        for symbol in batches & values.keys() if batch_multiple > 1 else ():
            values[symbol] = batch_multiple * values[symbol]
        return values

    values = symbols()
    values = symbols(sorted({f"{dims.evaluate(d, values)} >= 1"
                             for d in computed_expressions(function)}))
    return [jax.ShapeDtypeStruct(tuple(dims.evaluate(d, values) for d in arg.type.shape),
                                 numpy_dtype(arg.type.dtype))
            for arg in function.args]


def computed_expressions(function: Function) -> set:
    """The expression dims (not ints, not plain symbols) of the function's node results."""
    return {d for node in function.nodes for value in node.results
            for d in value.type.shape if isinstance(d, dims.DimExpr)}


def argument_shardings(module: Module, function: Function) -> list[tuple[str | None, ...]]:
    """Per argument of `function`, the mesh axis that splits each dim (shorter than the
    rank, or empty: the rest replicated): a param's from its `sharded` annotation, an
    optimizer slot's (`kernel/momentum`) from its param's, inputs and targets split
    over `data` along the batch (first) dim."""
    declared = {p["name"]: tuple(p["sharding"]) for p in module.meta.get("params", [])
                if p.get("sharding")}
    shapes = {p["name"]: list(p["shape"]) for p in module.meta.get("params", [])}
    specs = []
    for arg in function.args:
        spec = ()
        if arg.role == "param":
            spec = declared.get(arg.name, ())
        elif arg.role == "optimizer":
            owner = arg.name.rsplit("/", 1)[0]
            if shapes.get(owner) == list(arg.type.shape):
                spec = declared.get(owner, ())
        elif arg.role in ("input", "target") and arg.type.shape:
            spec = ("data",)
        specs.append(spec)
    return specs


def indivisible(module: Module, mesh: tuple[int, int]):
    """The first argument of a function whose split dim the mesh axis does not divide,
    as (argument, dim index, axis, axis size), or None."""
    sizes = dict(zip(MESH_AXES, mesh))
    for function in module:
        for arg, spec in zip(function.args, argument_shardings(module, function)):
            for index, axis in enumerate(spec):
                dim = arg.type.shape[index]
                if axis is not None and dims.is_concrete(dim) and dim % sizes[axis]:
                    return arg, index, axis, sizes[axis]
    return None


def export(function: Function, target: str = "cpu", module: Module | None = None,
           mesh: tuple[int, int] | None = None) -> jax_export.Exported:
    """`function` exported for `target`; with a `mesh` (data, model), for that many
    devices, its arguments sharded as `argument_shardings` says (`sdy.sharding`
    annotations in the StableHLO), over an abstract mesh: no device needs to exist."""
    shardings = None
    if mesh is not None:
        grid = jax.sharding.AbstractMesh(tuple(mesh), MESH_AXES)
        shardings = [jax.sharding.NamedSharding(grid, jax.sharding.PartitionSpec(*spec))
                     for spec in argument_shardings(module, function)]
    jitted = jax.jit(lower_function(function), in_shardings=shardings)
    with precision([function]):
        return jax_export.export(jitted, platforms=[PLATFORMS[target]])(
            *input_specs(function, mesh[0] if mesh else 1))


def stablehlo_text(function: Function, target: str = "cpu") -> str:
    return export(function, target).mlir_module()


def tensor_entry(name: str, ttype: TensorType, symbols: dict[str, str],
                 role: str | None = None) -> dict:
    entry = {"name": name, "dtype": str(np.dtype(numpy_dtype(ttype.dtype))),
             "shape": [d if dims.is_concrete(d) else
                       dims.format_dim(d, symbols.__getitem__, divide="//")
                       for d in ttype.shape]}
    return {**entry, "role": role} if role else entry


def artifact(module: Module, target: str, source_path: str, source_text: str,
             version: str, mesh: tuple[int, int] | None = None) -> tuple[dict, dict[str, bytes | str]]:
    """The manifest and files of an artifact directory (written by the runtime), for
    one device or for a `mesh` of (data, model) devices."""
    functions, blobs = {}, {}
    for function in module:
        exported = export(function, target, module, mesh)
        symbols = export_symbols(function)
        names = function.result_names or [f"out{i}" for i in range(len(function.results))]
        roles = function.result_roles or [None] * len(function.results)
        functions[function.name] = {
            "file": f"{function.name}.jaxexport",
            "stablehlo": f"{function.name}.mlir",
            "inputs": [tensor_entry(a.name, a.type, symbols, a.role) for a in function.args],
            "outputs": [tensor_entry(n, r.type, symbols, role)
                        for n, r, role in zip(names, function.results, roles)],
            "symbols": symbols,
        }
        blobs[f"{function.name}.jaxexport"] = bytes(exported.serialize())
        blobs[f"{function.name}.mlir"] = exported.mlir_module()
    manifest = {
        "format": "dslc-artifact",
        "format_version": 1,
        "dslc_version": version,
        "source": {"path": source_path,
                   "sha256": hashlib.sha256(source_text.encode("utf-8")).hexdigest()},
        "target": target,
        "platforms": [PLATFORMS[target]],
        "functions": functions,
        # The variables' groups (the metrics' as each epoch and evaluation starts them),
        # their dtypes spelled as NumPy spells them, as the functions' entries are.
        **{group: [{**entry, "dtype": str(np.dtype(numpy_dtype(entry["dtype"])))}
                   for entry in module.meta.get(group, [])]
           for group in ("params", "state", "optimizer_state", "metric_state")},
        # Each function's mode (training or inference), fixed when it was compiled.
        "modes": module.meta.get("modes", {}),
        # The devices the functions were compiled for; they run on that many only.
        "mesh": {"axes": list(MESH_AXES), "shape": list(mesh or (1, 1))},
    }
    if "train" in module.meta:
        manifest["train"] = module.meta["train"]
    return manifest, blobs
