"""The op registry: every IR op declared once, with all of its rules side by side.

Family files under `compiler/ops/` call `define` and attach rules with decorators;
passes (shape inference, autodiff, canonicalization) and backends (JAX lowering, and
the TF/torch emitters) are generic loops that look rules up here by op name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..ir import TensorType

REQUIRED = object()  # default marking an attribute the caller must give


class ShapeError(Exception):
    """Raised by a shape rule. `operand` is the index of the operand at fault, if one is;
    the builder turns it into a diagnostic pointing at the op and at that operand."""

    def __init__(self, message: str, *, code: str = "E0202", operand: int | None = None,
                 label: str = "", help: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.operand = operand
        self.label = label
        self.help = help


@dataclass
class OpDef:
    """An op's declaration and rules.

    - `operands`: operand names; a name ending in `*` takes all remaining operands.
    - `attrs`: attribute name -> default (`REQUIRED` when there is none).
    - `infer(attrs, *operand_types)` -> one `TensorType` or a tuple of them.
    - `vjp(b, node, cotangents)` -> one cotangent `Value` (or None) per operand, built
      with the builder `b` from other ops, so that gradients are IR themselves.
    - `transpose(b, node, cotangents)`: the same contract, for ops linear in every
      differentiable operand; autodiff uses it where there is no `vjp`.
    - `nondiff`: why the op has no gradient (its cotangents are zero or undefined).
    - `lower_jax(ctx, *operands, **attrs)` -> a jax array or a tuple of them.
    - `emitters`: target name -> source emitter; filled by the TF and torch emitters.
    - `canonicalize`: local rewrites `rule(b, node) -> Value | None`.
    """

    name: str
    operands: tuple[str, ...]
    attrs: dict[str, Any]
    doc: str
    family: str
    infer: Callable[..., Any] | None = None
    vjp: Callable[..., Any] | None = None
    transpose: Callable[..., Any] | None = None
    nondiff: str | None = None
    lower_jax: Callable[..., Any] | None = None
    emitters: dict[str, Callable[..., str]] = field(default_factory=dict)
    canonicalize: list[Callable[..., Any]] = field(default_factory=list)

    @property
    def variadic(self) -> bool:
        return bool(self.operands) and self.operands[-1].endswith("*")

    # Decorators, so that a rule is written right under the op it belongs to.
    def def_infer(self, fn):
        self.infer = fn
        return fn

    def def_vjp(self, fn):
        self.vjp = fn
        return fn

    def def_transpose(self, fn):
        self.transpose = fn
        return fn

    def def_jax(self, fn):
        self.lower_jax = fn
        return fn

    def def_canonicalize(self, fn):
        self.canonicalize.append(fn)
        return fn

    def def_emitter(self, target: str):
        def register(fn):
            self.emitters[target] = fn
            return fn
        return register

    def bind_attrs(self, given: dict[str, Any]) -> dict[str, Any]:
        """Attributes with defaults filled in; unknown or missing ones raise ValueError."""
        unknown = set(given) - set(self.attrs)
        if unknown:
            raise ValueError(f"`{self.name}` has no attribute {', '.join(sorted(unknown))}")
        bound = {}
        for key, default in self.attrs.items():
            value = given.get(key, default)
            if value is REQUIRED:
                raise ValueError(f"`{self.name}` needs attribute `{key}`")
            bound[key] = value
        return bound

    def result_types(self, attrs: dict[str, Any], operand_types) -> tuple[TensorType, ...]:
        inferred = self.infer(attrs, *operand_types)
        return inferred if isinstance(inferred, tuple) else (inferred,)


OPS: dict[str, OpDef] = {}


def define(name: str, operands: tuple[str, ...], *, family: str, doc: str,
           attrs: dict[str, Any] | None = None, infer=None, nondiff: str | None = None) -> OpDef:
    if name in OPS:
        raise ValueError(f"op `{name}` is defined twice")
    op = OpDef(name, tuple(operands), dict(attrs or {}), doc.strip(), family, infer=infer,
               nondiff=nondiff)
    OPS[name] = op
    return op


def get(name: str) -> OpDef:
    """The op named `name`; the family modules are imported on first use."""
    op = OPS.get(name)
    if op is None:
        from . import load_all

        load_all()
        op = OPS[name]
    return op


def all_ops() -> dict[str, OpDef]:
    from . import load_all

    load_all()
    return OPS
