"""The builtins and operators of `.nn` that are IR ops, generated from each op's
`Surface` in the registry: a builtin's parameters are the op's operands and attributes,
bound generically (numbers become constants of their tensor neighbours' dtype,
attributes are converted and checked by their kind), then emitted as the op or handed
to the surface's own `bind`.
"""

from __future__ import annotations

import functools
from typing import Any

from ..ir import DTYPES, Value
from ..ops import registry
from .binding import CallSite
from .types import literal_dtype
from .values import REQUIRED, Builtin, DimSym, Dtype, Signature, kind_name

INT32 = range(-2**31, 2**31)


def op_builtins() -> dict[str, Builtin]:
    """Builtin name -> `Builtin`, for every op whose surface has a name."""
    table = {}
    for op in registry.all_ops().values():
        if op.surface is not None and op.surface.name is not None:
            table[op.surface.name] = op_builtin(op)
    return table


@functools.cache
def operators() -> dict[tuple[str, int], str]:
    """(`.nn` operator, operand count) -> op name: `("+", 2)` is `add`, `("-", 1)` `neg`."""
    return {(op.surface.operator, len(op.operands)): op.name
            for op in registry.all_ops().values()
            if op.surface is not None and op.surface.operator is not None}


def op_builtin(op: registry.OpDef) -> Builtin:
    params = op.surface.parameters(op)
    signature = Signature(tuple((nn, default_of(op, name)) for nn, name in params))
    return Builtin(op.surface.name, signature, generic_binding(op, params),
                   op.doc.split("\n\n")[0].replace("\n", " "))


def default_of(op: registry.OpDef, name: str) -> Any:
    attr = op.attrs.get(name)
    if attr is None or attr.default is registry.REQUIRED:
        return REQUIRED
    return Dtype(attr.default) if attr.kind == "dtype" else attr.default


def generic_binding(op: registry.OpDef, params):
    operand_names = [n.rstrip("*") for n in op.operands]

    def impl(c: CallSite, **args):
        given = {name: (nn, args[nn]) for nn, name in params}
        values = []
        for name in operand_names:
            nn, value = given[name]
            if op.variadic and name == operand_names[-1]:
                if not isinstance(value, list) or not value:
                    raise c.fail("E0304", f"`{op.surface.name}` takes a non-empty list of "
                                 f"tensors as `{nn}`", nn)
                values += [(nn, item) for item in value]
            else:
                values.append((nn, value))
        dtype = neighbour_dtype([v for _, v in values])
        operands = [c.tensor(nn, v, literal_dtype(v, dtype)) for nn, v in values]
        attrs = {name: convert(c, op.attrs[name], nn, value)
                 for name, (nn, value) in given.items() if name in op.attrs}
        if op.surface.bind is not None:
            return op.surface.bind(c.b, *operands, **attrs)
        return c.b.emit(op.name, *operands, **attrs)
    return impl


def neighbour_dtype(values) -> str:
    """The dtype a number among `values` takes: that of the tensors beside it, a `bool`
    tensor (a mask) counting only when there is nothing else."""
    tensors = [v.type.dtype for v in values if isinstance(v, Value)]
    numeric = [d for d in tensors if d != "bool"]
    return (numeric or tensors or ["f32"])[0]


def convert(c: CallSite, attr: registry.Attr, nn: str, value) -> Any:
    """A `.nn` value as an attribute of `attr`'s kind, or E0304 at the argument."""
    if value is None and attr.optional:
        return None
    kind = attr.kind
    if kind == "ints":
        items = value if isinstance(value, list) else [value]
        if not all(is_int(i) for i in items):
            raise c.fail("E0304", f"`{nn}` should be an int or a list of ints, found "
                         f"{kind_name(value)}", nn)
        return tuple(items)
    if kind == "dims":
        if not isinstance(value, list):
            raise c.fail("E0304", f"`{nn}` should be a list of dims, found {kind_name(value)}",
                         nn)
        for dim in value:
            if not (is_int(dim) or isinstance(dim, DimSym)):
                raise c.fail("E0304", f"a dim should be an int or a symbolic dim, found "
                             f"{kind_name(dim)}", nn)
        return tuple(d.name if isinstance(d, DimSym) else d for d in value)
    if kind == "dtype":
        if isinstance(value, Dtype):
            return value.name
        if isinstance(value, str) and value in DTYPES:
            return value
        raise c.fail("E0201", f"expected a dtype such as `f32`, found {kind_name(value)}", nn)
    checks = {"int": lambda v: is_int(v) and v in INT32,
              "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              "bool": lambda v: isinstance(v, bool),
              "scalar": lambda v: isinstance(v, (int, float, bool))}
    if not checks[kind](value):
        raise c.fail("E0304", f"`{nn}` should be {registry.ATTR_KINDS[kind][1]}, found "
                     f"{kind_name(value)}", nn)
    return value


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
