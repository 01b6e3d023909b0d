"""`--emit summary`: a Keras-like table of a model's layers, output types and parameter
counts, read from the IR module's metadata (recorded by the front end)."""

from __future__ import annotations

import math

from .ir import Module


def summary(module: Module) -> str:
    meta = module.meta
    if "model" not in meta:
        functions = ", ".join(f.signature() for f in module)
        return f"no model in this program; functions: {functions}"
    rows = [("Layer (type)", "Output Shape", "Param #")]
    in_layers = 0
    for layer in meta.get("layers", []):
        indent = "  " * (layer["depth"])
        rows.append((f"{indent}{layer['name']} ({layer['layer']})", layer["output"],
                     f"{layer['params']:,}"))
        if layer["depth"] == 0:
            in_layers += layer["params"]
    total = sum(math.prod(p["shape"]) for p in meta.get("params", []))
    if total - in_layers:
        rows.append(("(model parameters)", "-", f"{total - in_layers:,}"))
    widths = [max(len(r[i]) for r in rows) + 3 for i in range(3)]
    rule = "-" * sum(widths)
    lines = [f'Model: "{meta["model"]}"', rule, _row(rows[0], widths), "=" * sum(widths)]
    lines += [_row(r, widths) for r in rows[1:]]
    lines += [rule, f"Total params: {total:,}", f"Trainable params: {total:,}",
              "Non-trainable params: 0"]
    return "\n".join(lines)


def _row(row, widths) -> str:
    return "".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
