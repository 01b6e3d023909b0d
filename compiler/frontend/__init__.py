"""The front end: the `.nn` AST to the IR, by compile-time evaluation.

By concern: `values.py` (compile-time values) and `errors.py` (diagnostics);
`types.py` (annotations, dims, type checks); `trace.py` (the function being traced,
scopes); `evaluate.py` (expressions and statements); `calls.py` (calls, by callee);
`layers.py` (layers and params); `builtins.py` (the compiler's builtin names);
`program.py` and `train.py` (whole programs and their training).
"""

from .program import FrontendResult, lower_program

__all__ = ["FrontendResult", "lower_program"]
