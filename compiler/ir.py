"""The IR: typed SSA values, nodes that carry a source location, functions, modules.

The front end (`compiler/frontend`) builds it through `compiler.builder.Builder`; passes
rewrite it; backends read it. Ops are named here only by string: what an op means
(shape rule, gradient, lowerings) lives in its one place under `compiler/ops/`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from . import dims
from .dims import Dim

# Element types by their `.nn` spelling, with the NumPy dtype each stands for.
# The named axes of a device mesh: a batch splits over `data`, a param's `sharded`
# dims over either (runtime/mesh.py names the same axes).
MESH_AXES = ("data", "model")

DTYPES: dict[str, str] = {
    "f16": "float16",
    "bf16": "bfloat16",
    "f32": "float32",
    "f64": "float64",
    "i8": "int8",
    "i32": "int32",
    "i64": "int64",
    "u8": "uint8",
    "bool": "bool",
}
FLOAT_DTYPES = frozenset({"f16", "bf16", "f32", "f64"})
INT_DTYPES = frozenset({"i8", "i32", "i64", "u8"})


ITEMSIZES = {"f16": 2, "bf16": 2, "f32": 4, "f64": 8, "i8": 1, "i32": 4, "i64": 8, "u8": 1,
             "bool": 1}


def itemsize(dtype: str) -> int:
    """Bytes per element of `dtype`."""
    return ITEMSIZES[dtype]


def format_bytes(count: int) -> str:
    """`count` bytes for a message: "37.3 GiB", "4.0 KiB", "12 bytes"."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"

# A dimension (`dims.Dim`) is a concrete size, a symbol (`N`, `B`) or arithmetic on
# them (`H * W * C`), symbolic down to shape-polymorphic StableHLO.


@dataclass(frozen=True, slots=True)
class TensorType:
    """Element type and shape of a value; `f32[N, 2]` prints and parses as such."""

    dtype: str
    shape: tuple[Dim, ...]

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols in the shape, inside expressions too, each once in order."""
        return tuple(dict.fromkeys(s for d in self.shape for s in dims.symbols_of(d)))

    def with_shape(self, shape) -> TensorType:
        return TensorType(self.dtype, tuple(shape))

    def with_dtype(self, dtype: str) -> TensorType:
        return TensorType(dtype, self.shape)

    def __str__(self) -> str:
        return f"{self.dtype}{format_shape(self.shape)}"


def format_shape(shape: tuple[Dim, ...]) -> str:
    return "[" + ", ".join(dims.format_dim(d) for d in shape) + "]"


@dataclass(frozen=True, slots=True)
class Loc:
    """Where a node came from in a `.nn` file.

    `span` (a `dsl.source.Span`, not compared) lets diagnostics draw carets; nodes made
    by autodiff keep the forward node's position and name its op in `gradient_of`.
    """

    file: str
    line: int
    col: int
    gradient_of: str | None = None
    span: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, span) -> Loc:
        return cls(span.source.name, span.line, span.col, span=span)

    def in_gradient_of(self, op: str) -> Loc:
        return dataclasses.replace(self, gradient_of=self.gradient_of or op)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        if self.gradient_of:
            return f"in gradient of `{self.gradient_of}` at {where}"
        return where


UNKNOWN_LOC = Loc("<unknown>", 0, 0)


# The named signature of the program's functions: what each argument and result is to
# the program, so that the API, the runtime, artifacts and emitters group them by role
# instead of slicing argument lists by position. The training/inference mode is not an
# argument: each function is traced in one mode (`train_step` in training, `predict` and
# `eval_step` in inference), recorded in the module's `meta["modes"]`. A function of `.nn` code that is not
# one of the program's (a user `fn`, a gradient) leaves its roles None. Arguments and
# results come in the order of these tables, a law the verifier checks, so that code
# calling a function may pass each role's values together (`*params, *state, x, y`).
ARG_ROLES = {
    "rng": "a random seed or key",
    "param": "a trained parameter",
    "state": "non-trained state of the model (moving statistics)",
    "optimizer": "an optimizer slot",
    "metric_state": "a metric's variable (a count, a sum, a confusion matrix row)",
    "input": "a model input",
    "target": "a training target",
}
RESULT_ROLES = {
    "param": "a trained parameter's new value",
    "state": "non-trained state's new value",
    "optimizer": "an optimizer slot's new value",
    "metric_state": "a metric variable's new value",
    "output": "a model output",
    "loss": "the loss",
    "metric": "a metric",
}


class Value:
    """An SSA value: a function argument (`node is None`), with its `role` in the
    function's signature (`ARG_ROLES`, or None), or one result of a node."""

    __slots__ = ("type", "node", "index", "name", "loc", "role")

    def __init__(self, type: TensorType, node: Node | None = None, index: int = 0,
                 name: str | None = None, loc: Loc = UNKNOWN_LOC, role: str | None = None):
        self.type = type
        self.node = node
        self.index = index
        self.name = name
        self.loc = loc
        self.role = role

    def __repr__(self) -> str:
        origin = self.node.op if self.node else "arg"
        return f"<Value {self.name or ''}:{self.type} from {origin}>"


class Node:
    """One op application: `results = op(operands) {attrs}` at `loc`."""

    __slots__ = ("op", "operands", "attrs", "results", "loc")

    def __init__(self, op: str, operands: tuple[Value, ...], attrs: dict[str, Any],
                 result_types: tuple[TensorType, ...], loc: Loc):
        self.op = op
        self.operands = tuple(operands)
        self.attrs = dict(attrs)
        self.loc = loc
        self.results = tuple([Value(t, self, i, None, loc) for i, t in enumerate(result_types)])

    @property
    def result(self) -> Value:
        (only,) = self.results
        return only

    def __repr__(self) -> str:
        return f"<Node {self.op} at {self.loc}>"


def group_by_role(roles: Sequence[str | None], values: Sequence[Any]) -> dict[str, list[Any]]:
    if len(roles) != len(values):
        raise ValueError(f"{len(values)} values for a signature of {len(roles)}")
    groups: dict[str, list[Any]] = {}
    for role, value in zip(roles, values):
        groups.setdefault(role, []).append(value)
    return groups


@dataclass
class Function:
    """A straight-line SSA function: named, typed arguments, nodes in order, results.
    Its signature names each argument's and result's role (`arg.role`,
    `result_roles`); `group_args` and `group_results` sort values by it."""

    name: str
    args: list[Value] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    results: list[Value] = field(default_factory=list)
    result_names: list[str] = field(default_factory=list)
    loc: Loc = UNKNOWN_LOC
    result_roles: list[str | None] = field(default_factory=list)

    def add_arg(self, type: TensorType, name: str, loc: Loc = UNKNOWN_LOC,
                role: str | None = None) -> Value:
        value = Value(type, None, len(self.args), name=name, loc=loc, role=role)
        self.args.append(value)
        return value

    def args_with(self, role: str) -> list[Value]:
        return [a for a in self.args if a.role == role]

    def group_args(self, values: Sequence[Any]) -> dict[str, list[Any]]:
        """`values`, one per argument, as role -> the values of that role in order."""
        return group_by_role([a.role for a in self.args], values)

    def group_results(self, values: Sequence[Any]) -> dict[str, list[Any]]:
        """`values`, one per result, as role -> the values of that role in order."""
        roles = self.result_roles or [None] * len(self.results)
        return group_by_role(roles, values)

    def order_args(self, **groups: Sequence[Any]) -> list[Any]:
        """The inverse of `group_args`: role -> values, in this function's order."""
        taken = {role: iter(values) for role, values in groups.items()}
        try:
            return [next(taken[arg.role]) for arg in self.args]
        except (KeyError, StopIteration):
            raise ValueError(f"`{self.name}` takes " + ", ".join(
                f"{a.role} `{a.name}`" for a in self.args)) from None

    def sort_args(self) -> None:
        """Arguments in the order of `ARG_ROLES` (stably), renumbered: the signature's
        law after arguments of several roles were added."""
        order = list(ARG_ROLES)
        self.args.sort(key=lambda a: order.index(a.role) if a.role in order else len(order))
        for index, arg in enumerate(self.args):
            arg.index = index

    def sort_results(self) -> None:
        """Results in the order of `RESULT_ROLES` (stably), with their names."""
        order = list(RESULT_ROLES)
        ranked = sorted(zip(self.results, self.result_names, self.result_roles),
                        key=lambda r: order.index(r[2]) if r[2] in order else len(order))
        self.results, self.result_names, self.result_roles = map(list, zip(*ranked))

    def set_results(self, groups: Sequence[tuple[str, Sequence[Value], Sequence[str]]]) -> None:
        """The results as (role, values, names) groups, in order."""
        self.results = [v for _, values, _ in groups for v in values]
        self.result_names = [n for _, _, names in groups for n in names]
        self.result_roles = [role for role, values, _ in groups for _ in values]

    @property
    def arg_names(self) -> list[str]:
        return [a.name for a in self.args]

    @property
    def arg_types(self) -> list[TensorType]:
        return [a.type for a in self.args]

    @property
    def result_types(self) -> list[TensorType]:
        return [r.type for r in self.results]

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbolic dims of the arguments, in order of first appearance."""
        seen: dict[str, None] = {}
        for arg in self.args:
            for sym in arg.type.symbols:
                seen.setdefault(sym)
        return tuple(seen)

    def bind_symbols(self, shapes: Sequence[tuple]) -> tuple[dict, int | None]:
        """Symbol -> size from the arguments' actual `shapes` (ints, or a backend's
        symbolic dims), and the index of the first argument whose shape does not fit
        its type (rank, a fixed size, an expression dim), else None."""
        pairs, owners = [], []
        for index, (arg, shape) in enumerate(zip(self.args, shapes)):
            if len(shape) != arg.type.rank:
                return {}, index
            pairs += zip(arg.type.shape, shape)
            owners += [index] * len(shape)
        symbols, bad = dims.bind(pairs)
        return symbols, None if bad is None else owners[bad]

    def signature(self) -> str:
        args = ", ".join(f"{a.name}: {a.type}" for a in self.args)
        results = ", ".join(str(t) for t in self.result_types)
        return f"{self.name}({args}) -> ({results})"


@dataclass
class Module:
    """The functions of one compiled program and what the runtime must know about them.

    `meta` holds plain data: parameter specs, optimizer state specs, train settings.
    """

    functions: dict[str, Function] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def add(self, function: Function) -> Function:
        self.functions[function.name] = function
        return function

    def __iter__(self) -> Iterator[Function]:
        return iter(self.functions.values())
