"""Compile-time builtins over lists of values, for layers called Keras-style on a list
of tensors (`Concatenate()([a, b])`, `Add()([a, b, c])`): `fold` applies a `.nn`
function pairwise from the left, as Keras' merge layers loop over their inputs, and
`len` counts the list. Consumed by `builtins.py`; they emit no op of their own.
"""

from __future__ import annotations

from .binding import CallSite
from .values import Signature, kind_name


def _as_list(c: CallSite, name: str, xs, at_least: int = 0) -> list:
    if not isinstance(xs, (list, tuple)):
        raise c.fail("E0304", f"`{name}` should be a list, found {kind_name(xs)}", name,
                     help="call the layer on a list of tensors, e.g. `Add()([a, b])`")
    if len(xs) < at_least:
        raise c.fail("E0304", f"`{name}` should hold at least {at_least} value(s), found "
                     f"{len(xs)}", name,
                     help="call the layer on a list of tensors, e.g. `Add()([a, b])`")
    return list(xs)


def _fold(c: CallSite, f, xs):
    """`f(f(xs[0], xs[1]), xs[2])...`: Keras' `output = op(output, inputs[i])` loop."""
    items = _as_list(c, "xs", xs, at_least=1)
    span = c.arg_spans.get("xs", c.span)
    calls = c.ev.calls
    result = items[0]
    for item in items[1:]:
        result = calls.call(c.ev, f, [(result, span), (item, span)], {}, c.span)
    return result


def _len(c: CallSite, xs):
    return len(_as_list(c, "xs", xs))


LIST_FUNCTIONS = (
    ("fold", Signature.of("f", "xs"), _fold,
     "`f` applied pairwise from the left: `f(f(xs[0], xs[1]), xs[2])`"),
    ("len", Signature.of("xs"), _len, "the number of values in a list"),
)
