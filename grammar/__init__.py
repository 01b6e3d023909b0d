"""The `.nn` grammar: `dslc.lark` is the one source of truth for the syntax.

The parser in `dslc.dsl.parser` and the editor-grammar tests read it from here.
"""

import functools
from pathlib import Path

GRAMMAR_PATH = Path(__file__).with_name("dslc.lark")


@functools.cache
def load_grammar_text() -> str:
    """The grammar's text, read once per process."""
    return GRAMMAR_PATH.read_text(encoding="utf-8")
