"""The language server behind `dslc lsp`: diagnostics as you type, types on hover, go to
definition, completion and document symbols for `.nn` files (pygls, over stdio).

`server.py` speaks the protocol; `analysis.py` compiles a document with the front end's
observer (`recorder.py`); `outline.py` reads even broken text; `features.py` answers.
"""


def serve() -> None:
    from .server import serve as run

    run()
