"""The front end: the `.nn` AST to the IR, by compile-time evaluation (`evaluate.py`),
calls and layers (`calls.py`), builtins (`builtins.py`), whole programs and their
training (`program.py`, `train.py`)."""

from .program import FrontendResult, lower_program

__all__ = ["FrontendResult", "lower_program"]
