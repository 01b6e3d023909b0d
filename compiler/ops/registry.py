"""The op registry: every IR op declared once, with all of its rules side by side.

Family files under `compiler/ops/` call `define` and attach rules with decorators;
passes (shape inference, autodiff, canonicalization) and backends (JAX lowering, and
the TF/torch emitters) are generic loops that look rules up here by op name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .. import dims
from ..ir import Function, TensorType

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


# What passes may ask of an op instead of its name; each trait is a law the op obeys.
TRAITS: dict[str, str] = {
    "elementwise": "each result element depends only on the operand elements at its index",
    "broadcasting": "operands broadcast against each other with NumPy's rules",
    "commutative": "swapping the two operands gives the same result",
    "linear": "linear in every differentiable operand; the gradient is a transpose",
    "shape": "moves or repeats elements without computing new values",
    "reduction": "combines elements over `axes`",
    "comparison": "its result is `bool`",
    "random": "draws from its `seed` operand; the same seed and attributes give the same bits",
    "constant": "has no operands; its value is in its attributes",
}

# Every backend an op must have a rule for: `jax` lowers to `jax.lax` values, `numpy` is
# the reference every other rule is tested against, `tf` and `torch` return source.
BACKENDS = ("jax", "numpy", "tf", "torch")


class AttrError(ValueError):
    """An attribute that is missing, unknown or of the wrong kind: a compiler bug when
    the front end or a pass built the node, a user error in hand-written IR text."""


_is_int = dims.is_concrete
_is_dim = dims.is_dim


def _is_pair(value, item=_is_int) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and all(map(item, value))


def _is_dim_pair(value) -> bool:
    return _is_pair(value, _is_dim)


# Attribute kinds: name -> (check, description); tuples are stored as tuples.
ATTR_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "int": (_is_int, "an integer"),
    "float": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
    "bool": (lambda v: isinstance(v, bool), "`true` or `false`"),
    "scalar": (lambda v: isinstance(v, (int, float, bool)), "a number or a bool"),
    "dtype": (lambda v: isinstance(v, str), "a dtype"),
    "ints": (lambda v: isinstance(v, tuple) and all(map(_is_int, v)), "a list of integers"),
    "dims": (lambda v: isinstance(v, tuple) and all(map(_is_dim, v)),
             "a list of dims (integers, symbols or arithmetic on them)"),
    "pairs": (lambda v: isinstance(v, tuple) and all(map(_is_pair, v)),
              "a list of `[low, high]` integer pairs"),
    "dim_pairs": (lambda v: isinstance(v, tuple) and all(map(_is_dim_pair, v)),
                  "a list of `[low, high]` pairs of dims"),
    "region": (lambda v: isinstance(v, Function), "a function (a region)"),
    "any": (lambda v: True, "any value"),
}

# An attribute of kind `region` holds a closed `ir.Function` (it sees only its own
# arguments): the body of a loop. Its node's operands feed it, its shape rule reads
# its signature, and passes, the verifier, printer and backends recurse into it.


def regions(attrs: dict[str, Any]) -> dict[str, Function]:
    """The region attributes among `attrs`, by name."""
    return {k: v for k, v in attrs.items() if isinstance(v, Function)}


@dataclass(frozen=True)
class Attr:
    """A typed attribute: its kind (`ATTR_KINDS`), its default (`REQUIRED` for none),
    and whether `None` is allowed (meaning "all axes", "identity", ...)."""

    kind: str
    default: Any = REQUIRED
    optional: bool = False

    def check(self, op: str, name: str, value: Any) -> Any:
        if value is None and self.optional:
            return None
        if isinstance(value, list) and self.kind in ("ints", "dims"):
            value = tuple(value)
        if isinstance(value, (list, tuple)) and self.kind in ("pairs", "dim_pairs"):
            value = tuple(tuple(p) if isinstance(p, list) else p for p in value)
        check, description = ATTR_KINDS[self.kind]
        if not check(value):
            raise AttrError(f"`{op}` attribute `{name}` should be {description}, "
                            f"got {value!r}")
        return float(value) if self.kind == "float" else value


@dataclass(frozen=True)
class Surface:
    """How `.nn` code reaches an op; the front end builds its builtins and operators
    from these. `name`: a builtin function whose parameters are `params`, each an
    operand or attribute of the op, or a pair (`.nn` name, op name) where `.nn` spells
    it differently (`axis` for `axes`); by default the operands, then the attributes.
    Attributes keep their defaults and are converted by their kind. `operator`: the
    infix (or, for one operand, prefix) operator. `bind(builder, *operands, **attrs)`,
    where given, is called with the bound arguments instead of emitting the op, for a
    builtin whose `.nn` meaning differs from the op's (a `cast` to the same dtype is no
    op at all)."""

    name: str | None = None
    operator: str | None = None
    params: tuple[str | tuple[str, str], ...] | None = None
    bind: Callable[..., Any] | None = None

    def parameters(self, op: OpDef) -> tuple[tuple[str, str], ...]:
        """(`.nn` name, operand or attribute name) of each builtin parameter."""
        names = self.params if self.params is not None else (
            tuple(n.rstrip("*") for n in op.operands) + tuple(op.attrs))
        return tuple((n, n) if isinstance(n, str) else n for n in names)


@dataclass
class OpDef:
    """An op's declaration and rules.

    - `operands`: operand names; a name ending in `*` takes all remaining operands.
    - `attrs`: attribute name -> `Attr` (kind, default), checked once, by `bind_attrs`.
    - `traits`: names from `TRAITS` that passes query.
    - `infer(attrs, *operand_types)` -> one `TensorType` or a tuple of them.
    - `vjp(b, node, cotangents)` -> one cotangent `Value` (or None) per operand, built
      with the builder `b` from other ops, so that gradients are IR themselves.
    - `transpose(b, node, cotangents)`: the same contract, for ops linear in every
      differentiable operand; autodiff uses it where there is no `vjp`.
    - `nondiff`: why the op has no gradient (its cotangents are zero or undefined).
    - `rules`: backend (`BACKENDS`) -> `rule(ctx, *operands, **attrs)`. The context is
      the backend's own and narrow: result types, dims, dtypes and the framework
      module (`ctx.lax`, `ctx.np`); for `tf` and `torch` the operands are source
      expressions and the rule returns one, with `ctx.fresh`/`ctx.emit` for statements.
    - `canonicalize`: local rewrites `rule(b, node) -> Value | None`.
    - `surface`: how `.nn` code reaches it (`Surface`), or `internal`: why it has none
      (it is made by the front end for other syntax, or by autodiff).
    """

    name: str
    operands: tuple[str, ...]
    attrs: dict[str, Attr]
    doc: str
    family: str
    traits: frozenset[str] = frozenset()
    infer: Callable[..., Any] | None = None
    vjp: Callable[..., Any] | None = None
    transpose: Callable[..., Any] | None = None
    nondiff: str | None = None
    rules: dict[str, Callable[..., Any]] = field(default_factory=dict)
    canonicalize: list[Callable[..., Any]] = field(default_factory=list)
    surface: Surface | None = None
    internal: str | None = None

    @property
    def variadic(self) -> bool:
        return bool(self.operands) and self.operands[-1].endswith("*")

    def rule(self, backend: str) -> Callable[..., Any] | None:
        return self.rules.get(backend)

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

    def def_rule(self, backend: str):
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend `{backend}`")

        def register(fn):
            self.rules[backend] = fn
            return fn
        return register

    def def_jax(self, fn):
        return self.def_rule("jax")(fn)

    def def_numpy(self, fn):
        return self.def_rule("numpy")(fn)

    def def_tf(self, fn):
        return self.def_rule("tf")(fn)

    def def_torch(self, fn):
        return self.def_rule("torch")(fn)

    def def_canonicalize(self, fn):
        self.canonicalize.append(fn)
        return fn

    def bind_attrs(self, given: dict[str, Any]) -> dict[str, Any]:
        """Attributes with defaults filled in and kinds checked; `AttrError` otherwise."""
        unknown = set(given) - set(self.attrs)
        if unknown:
            raise AttrError(f"`{self.name}` has no attribute {', '.join(sorted(unknown))}")
        bound = {}
        for key, attr in self.attrs.items():
            value = given.get(key, attr.default)
            if value is REQUIRED:
                raise AttrError(f"`{self.name}` needs attribute `{key}`")
            bound[key] = attr.check(self.name, key, value)
        return bound

    def result_types(self, attrs: dict[str, Any], operand_types) -> tuple[TensorType, ...]:
        inferred = self.infer(attrs, *operand_types)
        return inferred if isinstance(inferred, tuple) else (inferred,)


OPS: dict[str, OpDef] = {}


def define(name: str, operands: tuple[str, ...], *, family: str, doc: str,
           attrs: dict[str, Any] | None = None, traits=(), infer=None,
           nondiff: str | None = None, surface: Surface | None = None,
           internal: str | None = None) -> OpDef:
    """Registers an op. An attribute given as a plain default (not an `Attr`) is of kind
    `any`; the registry's completeness test allows that only outside the op families."""
    if name in OPS:
        raise ValueError(f"op `{name}` is defined twice")
    unknown = set(traits) - set(TRAITS)
    if unknown:
        raise ValueError(f"op `{name}` has unknown traits {sorted(unknown)}")
    typed = {k: v if isinstance(v, Attr) else Attr("any", v) for k, v in (attrs or {}).items()}
    op = OpDef(name, tuple(operands), typed, doc.strip(), family, frozenset(traits),
               infer=infer, nondiff=nondiff, surface=surface, internal=internal)
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
