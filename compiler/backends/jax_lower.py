"""Lowers an IR function to a Python function of JAX arrays, one `jax.lax` call per node.

It is a generic loop over the op registry: each node's `jax` rule gets a narrow
`LowerCtx` (operand and result types, symbolic dims resolved) and its operands. The
result traces under `jax.jit` and `jax.export`, symbolic dims staying symbolic.
"""

from __future__ import annotations

import contextlib
from typing import Callable

import jax
import jax.numpy as jnp
from jax import lax

from .. import dims
from ..ir import DTYPES, Function, Node, TensorType, format_shape
from ..ops import registry


class LoweringError(Exception):
    """An IR function that cannot be lowered: an op without a JAX rule, or arguments
    whose shapes contradict the function's signature."""


class LowerCtx:
    """What a lowering rule may know about its node: IR types, and the actual size of
    each symbolic dim in the current call (an int, or a JAX symbolic dim under export);
    and what it may use: `lax`, `random` (`jax.random`), dtypes by IR name, and
    NumPy-style broadcasting, which `lax` does not do; `region(body)` runs a region.
    """

    __slots__ = ("operand_types", "result_types", "_symbols")
    lax = lax
    random = jax.random

    def __init__(self, operand_types: tuple[TensorType, ...],
                 result_types: tuple[TensorType, ...], symbols: dict):
        self.operand_types = operand_types
        self.result_types = result_types
        self._symbols = symbols

    def dim(self, dim):
        try:
            return dims.evaluate(dim, self._symbols)
        except KeyError:
            raise LoweringError(f"symbolic dimension `{dim}` is not bound by any "
                                f"argument of the function") from None

    def shape(self, ir_shape) -> tuple:
        """`ir_shape` with every symbol replaced by its size in this call."""
        return tuple(self.dim(d) for d in ir_shape)

    def result_shape(self, index: int = 0) -> tuple:
        return self.shape(self.result_types[index].shape)

    def region(self, body: Function) -> Callable[..., tuple]:
        """`body` as a function of JAX values (to trace under `lax.scan`), its symbols
        those of the enclosing call."""
        return lambda *args: run_function(body, args, self._symbols)

    @staticmethod
    def dtype(name: str):
        """The JAX dtype of the IR dtype `name` (`f32`, `bf16`, ...)."""
        return jnp.dtype(DTYPES[name])

    def broadcast(self, *operands) -> tuple:
        """Each operand broadcast (trailing alignment) to the result's shape."""
        shape = self.result_shape()
        return tuple(self.broadcast_to(x, shape) for x in operands)

    @staticmethod
    def broadcast_to(x, shape):
        """`x` broadcast to `shape` with NumPy's trailing alignment."""
        shape = tuple(shape)
        if tuple(x.shape) == shape:
            return x
        lead = len(shape) - x.ndim
        return lax.broadcast_in_dim(x, shape, tuple(range(lead, len(shape))))


def bind_symbols(function: Function, args) -> dict:
    """Symbol -> actual dim, from the arguments' shapes; checks ranks, fixed sizes and
    expression dims; with int sizes, every dim of the function must come out >= 0."""
    symbols, bad = function.bind_symbols([tuple(array.shape) for array in args])
    if bad is not None:
        value = function.args[bad]
        raise LoweringError(f"argument `{value.name}` of `{function.name}` must be "
                            f"`{value.type}`, got shape {tuple(args[bad].shape)}")
    if all(dims.is_concrete(size) for size in symbols.values()):
        check_sizes(function, symbols)
    return symbols


def check_sizes(function: Function, symbols: dict[str, int]) -> None:
    """LoweringError for a value whose shape has a negative size at these symbol sizes
    (`H - 3` with H = 2): the front end can only refuse such sizes once they are ints."""
    for node in function.nodes:
        for result in node.results:
            sizes = [dims.evaluate(d, symbols) for d in result.type.shape]
            if any(size < 0 for size in sizes):
                where = ", ".join(f"{s} = {v}" for s, v in symbols.items())
                raise LoweringError(f"`{node.op}` at {node.loc} has shape "
                                    f"`{format_shape(result.type.shape)}`, which is "
                                    f"`{sizes}` for {where}: a size cannot be negative")


def lower_node(node: Node, operands: list, symbols: dict):
    op = registry.OPS[node.op]
    ctx = LowerCtx(tuple(v.type for v in node.operands),
                   tuple(v.type for v in node.results), symbols)
    out = op.rules["jax"](ctx, *operands, **node.attrs)
    return out if isinstance(out, (tuple, list)) else (out,)


def lower_function(function: Function) -> Callable[..., tuple]:
    """A function `f(*args) -> tuple` computing `function` with `jax.lax`."""
    ops = registry.all_ops()
    missing = sorted({node.op for node in function.nodes
                      if node.op not in ops or ops[node.op].rule("jax") is None})
    if missing:
        raise LoweringError(f"no JAX lowering for op {', '.join(f'`{m}`' for m in missing)} "
                            f"in `{function.name}`")

    def lowered(*args):
        if len(args) != len(function.args):
            raise LoweringError(f"`{function.name}` takes {len(function.args)} "
                                f"arguments, got {len(args)}")
        return run_function(function, args, bind_symbols(function, args))

    lowered.__name__ = function.name
    return lowered


def run_function(function: Function, args, symbols: dict) -> tuple:
    """The values of `function`'s results on `args`, one rule per node."""
    env = dict(zip(function.args, args))
    for node in function.nodes:
        outs = lower_node(node, [env[v] for v in node.operands], symbols)
        env.update(zip(node.results, outs))
    return tuple(env[v] for v in function.results)


WIDE_DTYPES = frozenset({"i64", "f64"})


def uses_64_bits(functions) -> bool:
    """Whether any of `functions` has a 64-bit value (argument, node result or result)."""
    return any(value.type.dtype in WIDE_DTYPES
               for function in functions
               for value in (*function.args, *function.results,
                             *(r for node in function.nodes for r in node.results)))


def precision(functions):
    """The JAX configuration `functions` need: `jax.enable_x64(True)` when one of them
    has a 64-bit type (JAX otherwise computes `i64` and `f64` in 32 bits, silently),
    else none. Tracing, compiling and calling must all happen inside it."""
    return jax.enable_x64(True) if uses_64_bits(functions) else contextlib.nullcontext()


def jit(function: Function) -> Callable[..., tuple]:
    """`function` lowered and jitted, each call made in its `precision`."""
    compiled = jax.jit(lower_function(function))
    wide = uses_64_bits([function])

    def call(*args):
        with jax.enable_x64(True) if wide else contextlib.nullcontext():
            return compiled(*args)

    call.__name__ = function.name
    return call

