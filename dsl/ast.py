"""The typed, spanned AST of a `.nn` module, built by `dsl.parser`.

Consumed by `dsl.resolve` and by the compiler front end (AST -> IR). Every node is a
frozen dataclass carrying a `Span`; `walk` and `dump` traverse without recursion so
that deeply nested input cannot exhaust the Python stack.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Iterator, Union

from .source import Span


class Node:
    """Base of every AST node; subclasses are frozen, slotted dataclasses."""

    __slots__ = ()


node = dataclass(frozen=True, slots=True)


@node
class DimInt(Node):
    value: int
    span: Span


@node
class DimName(Node):
    name: str
    span: Span


@node
class DimBinOp(Node):
    op: str
    left: Dim
    right: Dim
    span: Span


Dim = Union[DimInt, DimName, DimBinOp]


@node
class TypeAnn(Node):
    """`f32[B, 2]` (dims a tuple), `f32[]` (dims `()`), or a kind like `int` (dims None)."""

    name: str
    dims: tuple[Dim, ...] | None
    span: Span


@node
class Name(Node):
    id: str
    span: Span


@node
class Number(Node):
    value: int | float
    span: Span


@node
class String(Node):
    value: str
    span: Span


@node
class Bool(Node):
    value: bool
    span: Span


@node
class ListExpr(Node):
    items: tuple[Expr, ...]
    span: Span


@node
class BinOp(Node):
    """`+ - * / @ % **`."""

    op: str
    left: Expr
    right: Expr
    span: Span
    op_span: Span


@node
class IfExpr(Node):
    """`if condition { then } else { otherwise }`: the condition is a compile-time bool
    (`training`, a layer's configuration), and only the branch it picks is evaluated."""

    then: Expr
    condition: Expr
    otherwise: Expr
    span: Span


@node
class Compare(Node):
    """`== != < <= > >=` (non-associative)."""

    op: str
    left: Expr
    right: Expr
    span: Span
    op_span: Span


@node
class UnaryOp(Node):
    op: str
    operand: Expr
    span: Span


@node
class Keyword(Node):
    name: str
    value: Expr
    span: Span
    name_span: Span


@node
class Call(Node):
    func: Expr
    args: tuple[Expr, ...]
    kwargs: tuple[Keyword, ...]
    span: Span


@node
class Pipe(Node):
    """`left |> right`: the compiler applies `right` to `left`."""

    left: Expr
    right: Expr
    span: Span
    op_span: Span


@node
class Slice(Node):
    start: Expr | None
    stop: Expr | None
    step: Expr | None
    span: Span


@node
class Index(Node):
    value: Expr
    indices: tuple[Expr | Slice, ...]
    span: Span


@node
class Attribute(Node):
    value: Expr
    name: str
    span: Span


Expr = Union[Name, Number, String, Bool, ListExpr, BinOp, Compare, UnaryOp, Call, Pipe, Index, Attribute,
             IfExpr]


@node
class ParamDecl(Node):
    """`param W: f32[2, 1] = init` inside a model or layer body; `sharding` is the
    expression after `sharded` (a list of mesh axis names and `none`), if any."""

    name: str
    type: TypeAnn
    init: Expr | None
    span: Span
    name_span: Span
    sharding: Expr | None = None


@node
class StateDecl(ParamDecl):
    """`state moving_mean: f32[C] = zeros`: a value kept across training steps but not
    trained, read by every function, given a new value by `update` in training."""


@node
class Update(Node):
    """`update moving_mean = expr`: the state's value after a training step."""

    name: str
    value: Expr
    span: Span
    name_span: Span


@node
class IfStmt(Node):
    """`if condition { ... } else { ... }`: the condition is a compile-time bool and
    only the block it picks runs; names it binds are bound after it."""

    condition: Expr
    body: tuple["Stmt", ...]
    orelse: tuple["Stmt", ...]
    span: Span


@node
class Assign(Node):
    targets: tuple[str, ...]
    value: Expr
    span: Span
    target_spans: tuple[Span, ...]


@node
class Return(Node):
    values: tuple[Expr, ...]
    span: Span


Stmt = Union[ParamDecl, StateDecl, Update, Assign, Return, IfStmt]


@node
class Param(Node):
    """A model input, layer config parameter, layer signature input or fn parameter."""

    name: str
    annotation: TypeAnn | None
    default: Expr | None
    span: Span
    name_span: Span


@node
class Import(Node):
    path: str
    span: Span


@node
class ModelDef(Node):
    name: str
    inputs: tuple[Param, ...]
    outputs: tuple[TypeAnn, ...]
    body: tuple[Stmt, ...]
    span: Span
    name_span: Span


@node
class LayerDef(Node):
    """`layer L(params) { (inputs) -> outputs  body }`; no signature line gives ()."""

    name: str
    params: tuple[Param, ...]
    inputs: tuple[Param, ...]
    outputs: tuple[TypeAnn, ...]
    body: tuple[Stmt, ...]
    span: Span
    name_span: Span


@node
class FnDef(Node):
    """`fn f(x) -> T { ... }`, `fn f(x) = e`, or `fn f = e` (params and outputs None)."""

    name: str
    params: tuple[Param, ...] | None
    outputs: tuple[TypeAnn, ...] | None
    body: tuple[Stmt, ...]
    span: Span
    name_span: Span


@node
class Setting(Node):
    name: str
    value: Expr
    span: Span
    name_span: Span


@node
class TrainDef(Node):
    model: str
    settings: tuple[Setting, ...]
    span: Span
    model_span: Span


@node
class Module(Node):
    items: tuple[Import | ModelDef | LayerDef | FnDef | TrainDef, ...]
    span: Span


Definition = Union[ModelDef, LayerDef, FnDef]

_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}
_SCALAR_FIELDS: dict[type, tuple[str, ...]] = {}
_NODE_FIELD_TYPES = ("Expr", "Dim", "Stmt", "Keyword", "Param", "TypeAnn", "Slice", "Setting")


def _classify_fields(cls: type) -> None:
    children, scalars = [], []
    for field in fields(cls):
        if field.name == "span" or field.name.endswith(("_span", "_spans")):
            continue
        annotation = str(field.type)
        if any(kind in annotation for kind in _NODE_FIELD_TYPES) or field.name in ("items", "left", "right", "operand"):
            children.append(field.name)
        else:
            scalars.append(field.name)
    _CHILD_FIELDS[cls], _SCALAR_FIELDS[cls] = tuple(children), tuple(scalars)


def child_fields(cls: type) -> tuple[str, ...]:
    """Names of the fields of `cls` that hold nodes or tuples of nodes."""
    if cls not in _CHILD_FIELDS:
        _classify_fields(cls)
    return _CHILD_FIELDS[cls]


def children(item: Node) -> Iterator[Node]:
    """The direct child nodes of `item`, in field order."""
    for name in child_fields(type(item)):
        value = getattr(item, name)
        if isinstance(value, Node):
            yield value
        elif isinstance(value, tuple):
            yield from (element for element in value if isinstance(element, Node))


def walk(root: Node) -> Iterator[Node]:
    """Every node under `root` (included), in pre-order, without recursion."""
    stack = [root]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(children(current))))


def _describe(item: Node) -> str:
    cls = type(item)
    if cls not in _SCALAR_FIELDS:
        _classify_fields(cls)
    parts = [cls.__name__]
    for name in _SCALAR_FIELDS[cls]:
        parts.append(f"{name}={getattr(item, name)!r}")
    for name in child_fields(cls):
        value = getattr(item, name)
        if value == ():
            parts.append(f"{name}=()")
    return " ".join(parts) + f" @{item.span.line}:{item.span.col}"


def _labelled_children(item: Node) -> list[tuple[str, Node]]:
    labelled = []
    for name in child_fields(type(item)):
        value = getattr(item, name)
        if isinstance(value, Node):
            labelled.append((name, value))
        elif isinstance(value, tuple):
            labelled.extend((f"{name}[{i}]", v) for i, v in enumerate(value) if isinstance(v, Node))
    return labelled


def dump(root: Node) -> str:
    """An indented dump of the tree, one node a line with its `@line:col`."""
    lines = []
    stack: list[tuple[int, str, Node]] = [(0, "", root)]
    while stack:
        depth, label, current = stack.pop()
        prefix = f"{label}: " if label else ""
        lines.append(f"{'  ' * depth}{prefix}{_describe(current)}")
        for child_label, child in reversed(_labelled_children(current)):
            stack.append((depth + 1, child_label, child))
    return "\n".join(lines)
