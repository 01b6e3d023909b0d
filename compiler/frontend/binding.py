"""Arguments to parameters: a call's positional and keyword arguments bound to a
signature (a builtin's `Signature`, or a `.nn` definition's parameters), and the
`CallSite` a builtin's implementation receives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...dsl.diagnostics import suggest
from ..ir import Value
from .errors import fail
from .values import REQUIRED, Signature


@dataclass
class CallSite:
    """What a builtin's implementation sees: the evaluator, the call's span, and the
    span of each bound argument (for diagnostics that point at one argument)."""

    ev: Any
    span: Any
    arg_spans: dict[str, Any]

    @property
    def b(self):
        return self.ev.trace.builder(self.span)

    def tensor(self, name: str, value: Any, dtype: str = "f32") -> Value:
        return self.ev.tensor(value, self.arg_spans.get(name, self.span), dtype)

    def fail(self, code: str, message: str, arg: str | None = None, label: str = "",
             **kw):
        return fail(code, message, self.arg_spans.get(arg, self.span), label, **kw)


def bind_arguments(signature: Signature, args, kwargs, span, what: str):
    """Binds positional and keyword `(value, span)` pairs to `signature`.
    Returns (values by name, spans by name)."""
    names = signature.names
    if len(args) > len(names):
        raise fail("E0301", f"{what} takes {len(names)} argument(s) but {len(args)} were given",
                   args[len(names)][1], "unexpected argument")
    values, spans = {}, {}
    for (name, _), (value, arg_span) in zip(signature.params, args):
        values[name], spans[name] = value, arg_span
    for name, (value, arg_span) in kwargs.items():
        if name not in names:
            raise fail("E0302", f"{what} has no parameter `{name}`", arg_span,
                       "unknown keyword", help=suggest(name, names) or
                       f"its parameters are {', '.join(f'`{n}`' for n in names) or 'none'}")
        if name in values:
            raise fail("E0301", f"`{name}` is given twice", arg_span)
        values[name], spans[name] = value, arg_span
    for name, default in signature.params:
        if name not in values:
            if default is REQUIRED:
                raise fail("E0301", f"{what} is missing its argument `{name}`", span,
                           f"`{name}` not given")
            values[name] = default
    return values, spans


def ast_signature(params) -> Signature:
    """A signature for `.nn` params; defaults stay AST nodes, evaluated at the call."""
    return Signature(tuple((p.name, p.default if p.default is not None else REQUIRED)
                           for p in params))
