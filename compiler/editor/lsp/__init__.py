"""The language server behind `dslc lsp`: diagnostics as you type, types on hover, go to
definition, completion and document symbols for `.nn` files (pygls, over stdio).

`server.py` speaks the protocol; `analysis.py` compiles a document with the front end's
observer (`recorder.py`); `outline.py` reads even broken text; `features.py` answers.
`COMMAND` is the `lsp` command that `compiler/cli.py` adds to the driver's.
"""

from __future__ import annotations

import argparse

from ...commands import usage_error
from ...driver import Command


def serve() -> int:
    from .server import serve as run

    return run()


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    # Editors' clients (vscode-languageclient) add `--stdio`; stdio is the only transport.
    parser.add_argument("--stdio", action="store_true", help=argparse.SUPPRESS)


def _run(session) -> int:
    try:
        import pygls  # noqa: F401 - checked here for a clear message
    except ImportError:
        return usage_error("the language server needs pygls: pip install 'dslc[editor]'")
    return serve()


COMMAND = Command("lsp", "run the language server for editors (over stdio)",
                  _add_arguments, _run)
