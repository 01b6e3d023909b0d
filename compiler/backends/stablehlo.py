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
from ..ir import DTYPES, Function, Module, TensorType
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


def input_specs(function: Function) -> list[jax.ShapeDtypeStruct]:
    """One abstract value per argument; symbols share one `jax.export` scope, and an
    expression dim (`H * W`) is computed from them by JAX's own dim arithmetic."""
    names = export_symbols(function)
    values = {}
    if names:
        values = dict(zip(names, jax_export.symbolic_shape(", ".join(names.values()))))
    return [jax.ShapeDtypeStruct(tuple(dims.evaluate(d, values) for d in arg.type.shape),
                                 numpy_dtype(arg.type.dtype))
            for arg in function.args]


def export(function: Function, target: str = "cpu") -> jax_export.Exported:
    jitted = jax.jit(lower_function(function))
    with precision([function]):
        return jax_export.export(jitted, platforms=[PLATFORMS[target]])(*input_specs(function))


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
             version: str) -> tuple[dict, dict[str, bytes | str]]:
    """The manifest and files of an artifact directory (written by the runtime)."""
    functions, blobs = {}, {}
    for function in module:
        exported = export(function, target)
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
    }
    if "train" in module.meta:
        manifest["train"] = module.meta["train"]
    return manifest, blobs
