"""The NumPy reference backend: runs an IR function node by node with each op's `numpy`
rule. It is the oracle every other backend's rule is tested against, so its rules are
written for clarity, not speed; it needs nothing but NumPy (and `ml_dtypes`, which JAX
brings, for `bf16`).
"""

from __future__ import annotations

import numpy as np

from .. import dims
from ..ir import DTYPES, Function, Node, TensorType
from ..ops import registry


class ReferenceError(Exception):
    """An IR function the reference cannot run: an op without a `numpy` rule, or
    arguments whose shapes contradict the function's signature."""


def numpy_dtype(name: str) -> np.dtype:
    """The NumPy dtype of the IR dtype `name`."""
    if name == "bf16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(DTYPES[name])


class NumpyCtx:
    """What a reference rule may know about its node: IR types, the size of each
    symbolic dim in this call, dtypes by IR name; `np`, NumPy itself; and `region(body)`,
    a region as a Python function of arrays."""

    __slots__ = ("operand_types", "result_types", "_symbols")
    np = np

    def __init__(self, operand_types: tuple[TensorType, ...],
                 result_types: tuple[TensorType, ...], symbols: dict[str, int]):
        self.operand_types = operand_types
        self.result_types = result_types
        self._symbols = symbols

    def shape(self, ir_shape) -> tuple[int, ...]:
        """`ir_shape` with every symbol replaced by its size in this call."""
        try:
            return tuple(dims.evaluate(d, self._symbols) for d in ir_shape)
        except KeyError as error:
            raise ReferenceError(f"symbolic dimension `{error.args[0]}` is not bound by "
                                 "any argument of the function") from None

    def result_shape(self, index: int = 0) -> tuple[int, ...]:
        return self.shape(self.result_types[index].shape)

    def result_dtype(self, index: int = 0) -> np.dtype:
        return numpy_dtype(self.result_types[index].dtype)

    @staticmethod
    def dtype(name: str) -> np.dtype:
        return numpy_dtype(name)

    def region(self, body: Function):
        return lambda *args: run_function(body, args, self._symbols)


def bind_symbols(function: Function, args) -> dict[str, int]:
    """Symbol -> size, from the arguments' shapes; checks ranks and fixed sizes."""
    symbols, bad = function.bind_symbols([np.shape(array) for array in args])
    if bad is not None:
        value = function.args[bad]
        raise ReferenceError(f"argument `{value.name}` of `{function.name}` must be "
                             f"`{value.type}`, got shape {np.shape(args[bad])}")
    return symbols


def run_node(node: Node, operands: list, symbols: dict[str, int]) -> tuple[np.ndarray, ...]:
    rule = registry.get(node.op).rule("numpy")
    if rule is None:
        raise ReferenceError(f"no NumPy reference for op `{node.op}`")
    ctx = NumpyCtx(tuple(v.type for v in node.operands), tuple(v.type for v in node.results),
                   symbols)
    out = rule(ctx, *operands, **node.attrs)
    outs = out if isinstance(out, tuple) else (out,)
    # Each result has exactly its IR dtype, so a rule cannot hide a promotion.
    return tuple(np.asarray(o).astype(numpy_dtype(v.type.dtype), copy=False)
                 for o, v in zip(outs, node.results))


def evaluate(function: Function, *args) -> tuple[np.ndarray, ...]:
    """`function` applied to NumPy arrays (or numbers), by the reference rules."""
    if len(args) != len(function.args):
        raise ReferenceError(f"`{function.name}` takes {len(function.args)} arguments, "
                             f"got {len(args)}")
    arrays = [np.asarray(a, numpy_dtype(v.type.dtype)) for a, v in zip(args, function.args)]
    return run_function(function, arrays, bind_symbols(function, arrays))


def run_function(function: Function, arrays, symbols: dict[str, int]) -> tuple:
    env = dict(zip(function.args, arrays))
    for node in function.nodes:
        env.update(zip(node.results, run_node(node, [env[v] for v in node.operands], symbols)))
    return tuple(env[v] for v in function.results)
