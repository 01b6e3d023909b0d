"""The `.nn` front end: text to a typed, spanned AST plus diagnostics.

`parse` (dsl/parser.py) builds the AST (dsl/ast.py) with Lark; `resolve` checks
names; diagnostics (dsl/diagnostics.py) render rustc-style with codes from dsl/codes.py.
Knows nothing of the IR.
"""

from . import ast
from .ast import dump, walk
from .codes import CODES, explain
from .diagnostics import Diagnostic, DiagnosticError, Label, closest, render, render_all, suggest
from .parser import ParseResult, parse
from .resolve import resolve
from .source import SourceFile, Span

__all__ = [
    "CODES",
    "Diagnostic",
    "DiagnosticError",
    "Label",
    "ParseResult",
    "SourceFile",
    "Span",
    "ast",
    "closest",
    "dump",
    "explain",
    "parse",
    "render",
    "render_all",
    "resolve",
    "suggest",
    "walk",
]
