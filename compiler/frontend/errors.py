"""How the front end reports a user error: `raise fail(code, message, span, ...)`.

A diagnostic raised inside the prelude (say in `Dense`'s body) is moved to the user's
call by `at_call_site`, with the prelude line kept as a secondary label.
"""

from __future__ import annotations

import dataclasses

from ...dsl.diagnostics import Diagnostic, DiagnosticError, Label
from .values import PRELUDE_PREFIX, callable_name


def fail(code: str, message: str, span, label: str = "", *, help: str | None = None,
         secondary=(), notes=()) -> DiagnosticError:
    """A diagnostic wrapped for raising: `raise fail("E0101", ...)`."""
    return DiagnosticError([Diagnostic(code, message, span, label=label, help=help,
                                       secondary=tuple(secondary), notes=tuple(notes))])


def in_prelude(span) -> bool:
    return span.source.name.startswith(PRELUDE_PREFIX)


def at_call_site(diagnostic: Diagnostic, func, span) -> Diagnostic:
    """`diagnostic`, when raised inside the prelude, moved to the user's call at `span`."""
    if not in_prelude(diagnostic.span):
        return diagnostic
    inside = Label(diagnostic.span, diagnostic.label or "raised here")
    return dataclasses.replace(
        diagnostic, span=span, label=f"in this call to `{callable_name(func)}`",
        secondary=(inside,) + tuple(diagnostic.secondary))
