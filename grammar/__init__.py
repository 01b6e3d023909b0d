"""The `.nn` grammar: `dslc.lark` is the one source of truth for the syntax.

It sits below everything: the parser in `dslc.dsl.parser` reads it from here, and the
editor tooling (`dslc.compiler.editor`) derives its grammars from that parser.
"""

import functools
from pathlib import Path

GRAMMAR_PATH = Path(__file__).with_name("dslc.lark")


@functools.cache
def load_grammar_text() -> str:
    """The grammar's text, read once per process."""
    return GRAMMAR_PATH.read_text(encoding="utf-8")
