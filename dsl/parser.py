"""The Lark driver: `.nn` text in, `ParseResult` (AST + diagnostics) out.

The LALR parser is built once per process from grammar/dslc.lark, with the AST
builder as its transformer. After a syntax error, parsing resumes at the next
top-level keyword so that one run reports several errors. `parse` never raises.
"""

from __future__ import annotations

import functools
import re
import traceback
from dataclasses import dataclass

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, VisitError

from ..grammar import load_grammar_text
from . import ast
from .builder import AstBuilder, BuildContext, set_context
from .diagnostics import Diagnostic
from .source import SourceFile, Span
from .syntax_errors import diagnose

MAX_SYNTAX_ERRORS = 10
ITEM_START = re.compile(r"^[ \t\f]*(import|model|layer|fn|train)\b", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class ParseResult:
    """`module` is None when the text could not be parsed (E0001–E0004, E0900)."""

    module: ast.Module | None
    source: SourceFile
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return self.module is not None and not any(d.severity == "error" for d in self.diagnostics)


@functools.cache
def get_lark() -> Lark:
    """The process-wide LALR parser with the AST builder attached."""
    return Lark(
        load_grammar_text(),
        parser="lalr",
        lexer="basic",
        maybe_placeholders=False,
        transformer=AstBuilder(),
    )


@functools.cache
def get_plain_lark() -> Lark:
    """The same grammar without the AST builder (parse trees; for tools and tests)."""
    return Lark(load_grammar_text(), parser="lalr", lexer="basic", maybe_placeholders=False)


def parse(text: str, filename: str = "<input>") -> ParseResult:
    """Parse `.nn` source text; every problem is returned as a diagnostic."""
    source = SourceFile(filename, text)
    try:
        return _parse(source)
    except Exception as error:  # noqa: BLE001 - the one place that turns bugs into E0900
        if isinstance(error, VisitError):
            error = error.orig_exc
        return ParseResult(None, source, (_internal_error(source, error),))
    finally:
        set_context(None)


def _internal_error(source: SourceFile, error: BaseException) -> Diagnostic:
    where = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    origin = f" at {where[0].filename}:{where[0].lineno}" if where else ""
    return Diagnostic(
        "E0900",
        "internal compiler error",
        Span(source, 0, 0),
        label="while parsing this file",
        notes=(f"{type(error).__name__}: {error}{origin}",),
        help="this is a bug in dslc; please report it with the input file",
    )


def _run_parser(source: SourceFile, text: str) -> tuple[ast.Module | None, BuildContext, UnexpectedInput | None]:
    context = BuildContext(source)
    set_context(context)
    try:
        return get_lark().parse(text), context, None
    except VisitError as error:
        if isinstance(error.orig_exc, UnexpectedInput):
            return None, context, error.orig_exc
        raise error.orig_exc from None
    except UnexpectedInput as error:
        return None, context, error


def _parse(source: SourceFile) -> ParseResult:
    module, context, error = _run_parser(source, source.text)
    diagnostics = list(context.diagnostics)
    if error is None:
        return ParseResult(None if context.too_deep else module, source, tuple(diagnostics))
    resume_from, parsed_text = -1, source.text
    while error is not None and sum(d.code != "E0005" for d in diagnostics) < MAX_SYNTAX_ERRORS:
        diagnostics.append(diagnose(error, source, get_lark(), parsed_text))
        resume_from = _resume_point(source.text, _error_offset(error), resume_from)
        if resume_from is None:
            break
        parsed_text = _blank_before(source.text, resume_from)
        _, context, error = _run_parser(source, parsed_text)
        diagnostics.extend(context.diagnostics)
    return ParseResult(None, source, _unique(diagnostics))


def _error_offset(error: UnexpectedInput) -> int | None:
    """Where the error is, or None when it is at the end of the input."""
    if isinstance(error, UnexpectedCharacters):
        return error.pos_in_stream
    token = getattr(error, "token", None)
    if token is not None and token.type != "$END":
        return token.start_pos
    return None


def _resume_point(text: str, error_offset: int | None, previous: int) -> int | None:
    """Where the next top-level definition starts, at or after the error."""
    if error_offset is None:
        return None
    threshold = max(error_offset, previous + 1)
    line_start = text.rfind("\n", 0, threshold) + 1
    for match in ITEM_START.finditer(text, line_start):
        if match.start(1) >= threshold:
            return match.start(1)
    return None


def _blank_before(text: str, offset: int) -> str:
    """`text` with everything before `offset` blanked out, keeping offsets and lines."""
    return re.sub(r"[^\n]", " ", text[:offset]) + text[offset:]


def _unique(diagnostics: list[Diagnostic]) -> tuple[Diagnostic, ...]:
    seen, out = set(), []
    for diag in diagnostics:
        key = (diag.code, diag.span.start, diag.span.end, diag.message)
        if key not in seen:
            seen.add(key)
            out.append(diag)
    return tuple(out)
