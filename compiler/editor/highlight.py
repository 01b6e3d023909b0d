"""Colours a line of `.nn` source for a terminal with the Pygments lexer: the highlighter
the console script (`compiler/cli.py`) hands the driver for coloured diagnostics.

Pygments is imported when the first line is coloured, so a run without diagnostics,
or with diagnostics piped to a file, never loads it.
"""

from __future__ import annotations

import functools
import importlib.util
from typing import Callable


def terminal_highlighter() -> Callable[[str], str] | None:
    """A function that colours one source line with ANSI codes, or None when Pygments
    is not installed."""
    if importlib.util.find_spec("pygments") is None:
        return None
    return highlight_line


def highlight_line(text: str) -> str:
    highlight, lexer, formatter = _pygments()
    return highlight(text, lexer, formatter)


@functools.cache
def _pygments():
    from pygments import highlight
    from pygments.formatters import TerminalFormatter

    from .pygments_lexer import DslcLexer

    return highlight, DslcLexer(stripnl=False, ensurenl=False), TerminalFormatter()
