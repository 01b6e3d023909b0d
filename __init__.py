"""dslc: a compiler for a small neural-network language.

The repository root is this package: `dsl/` (text to AST), `compiler/` (AST to IR,
passes, backends, driver) and `runtime/` (running compiled programs). The public API
is loaded lazily so that `import dslc.runtime` pulls in only JAX and NumPy.
"""

__version__ = "0.1.0"

_API = {"compile", "CompileError", "Program", "load"}


def __getattr__(name):
    if name in _API:
        from .compiler import api

        return getattr(api, name)
    raise AttributeError(f"module 'dslc' has no attribute {name!r}")
