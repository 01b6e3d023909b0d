"""The AST builder: Lark callbacks that turn each LALR reduction into an AST node.

Runs inside the parse (dsl/parser.py passes it as Lark's `transformer=`), bottom-up
and without recursion. Spans come from tokens' offsets and children's spans. It also
checks what the grammar cannot: nesting depth (E0004) and literal values (E0005).
"""

from __future__ import annotations

import dataclasses
import math
import threading
from dataclasses import dataclass, field

from lark import Token, Transformer

from . import ast
from .diagnostics import Diagnostic
from .source import SourceFile, Span

MAX_DEPTH = 200

ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}


@dataclass
class BuildContext:
    """Per-parse state of the builder: the file, and what the checks found."""

    source: SourceFile
    diagnostics: list[Diagnostic] = field(default_factory=list)
    depth: dict[int, int] = field(default_factory=dict)
    too_deep: bool = False


class _Outputs(tuple):
    """The result types of a signature (`-> T` or `-> (T, U)`)."""


@dataclass(frozen=True)
class _Signature:
    inputs: tuple[ast.Param, ...]
    outputs: tuple[ast.TypeAnn, ...]


_LOCAL = threading.local()


def set_context(context: BuildContext | None) -> None:
    _LOCAL.context = context


def _span_of(item) -> Span:
    if isinstance(item, Token):
        return Span(_LOCAL.context.source, item.start_pos, item.end_pos)
    return item.span


def _join(first, last) -> Span:
    return Span.join(_span_of(first), _span_of(last))


def _nodes(children, kind=ast.Node) -> tuple:
    return tuple(c for c in children if isinstance(c, kind))


def _after(children, token_type: str):
    """The child right after the first token of `token_type`, or None."""
    for i, child in enumerate(children):
        if isinstance(child, Token) and child.type == token_type:
            return children[i + 1] if i + 1 < len(children) else None
    return None


def _between_braces(children) -> list:
    start = next(i for i, c in enumerate(children) if isinstance(c, Token) and c.type == "LBRACE")
    return children[start + 1 : -1]


def _nested(node: ast.Node, *kids, extra: int = 1) -> ast.Node:
    """Record `node`'s nesting depth; report E0004 once when it passes MAX_DEPTH."""
    context = _LOCAL.context
    depth = extra + max((context.depth.get(id(k), 0) for k in kids), default=0)
    context.depth[id(node)] = depth
    if depth > MAX_DEPTH and not context.too_deep:
        context.too_deep = True
        start = node.span.start
        context.diagnostics.append(
            Diagnostic(
                "E0004",
                "expression nested too deeply",
                Span(node.span.source, start, start + 1),
                label=f"nesting passes {MAX_DEPTH} levels here",
                help="split the expression into several statements with intermediate names",
            )
        )
    return node


def _decode_string(token: Token) -> str:
    raw, out, i = token.value[1:-1], [], 0
    while i < len(raw):
        char = raw[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        escape = raw[i + 1]
        if escape in ESCAPES:
            out.append(ESCAPES[escape])
        else:
            start = token.start_pos + 1 + i
            _LOCAL.context.diagnostics.append(
                Diagnostic(
                    "E0005",
                    f"invalid escape sequence `\\{escape}` in string literal",
                    Span(_LOCAL.context.source, start, start + 2),
                    label="unknown escape",
                    help="valid escapes are `\\n`, `\\t`, `\\r`, `\\0`, `\\\\`, `\\\"` and `\\'`",
                )
            )
            out.append(escape)
        i += 2
    return "".join(out)


def _int_value(token: Token) -> int:
    try:
        return int(token.value)
    except ValueError:
        _LOCAL.context.diagnostics.append(
            Diagnostic(
                "E0005",
                "integer literal is too long",
                _span_of(token),
                label=f"{len(token.value)} digits",
            )
        )
        return 0


class AstBuilder(Transformer):
    """One method per grammar rule or alias; each receives that reduction's children."""

    def start(self, children):
        source = _LOCAL.context.source
        return ast.Module(tuple(children), Span(source, 0, len(source.text)))

    def import_stmt(self, children):
        keyword, path = children
        return ast.Import(_decode_string(path), _join(keyword, path))

    def model_def(self, children):
        outputs = next((c for c in children if isinstance(c, _Outputs)), _Outputs())
        return ast.ModelDef(
            children[1].value,
            children[3],
            tuple(outputs),
            _nodes(_between_braces(children)),
            _join(children[0], children[-1]),
            _span_of(children[1]),
        )

    def layer_def(self, children):
        signature = next((c for c in children if isinstance(c, _Signature)), _Signature((), ()))
        return ast.LayerDef(
            children[1].value,
            children[3],
            signature.inputs,
            signature.outputs,
            _nodes(_between_braces(children)),
            _join(children[0], children[-1]),
            _span_of(children[1]),
        )

    def signature(self, children):
        return _Signature(children[1], tuple(children[3]))

    def _fn(self, children, params, body):
        outputs = next((c for c in children if isinstance(c, _Outputs)), None)
        return ast.FnDef(
            children[1].value,
            params,
            None if outputs is None else tuple(outputs),
            body,
            _join(children[0], children[-1]),
            _span_of(children[1]),
        )

    def fn_expr(self, children):
        value = children[-1]
        return self._fn(children, children[3], (ast.Return((value,), value.span),))

    def fn_block(self, children):
        return self._fn(children, children[3], _nodes(_between_braces(children)))

    def fn_alias(self, children):
        value = children[-1]
        return self._fn(children, None, (ast.Return((value,), value.span),))

    def train_def(self, children):
        return ast.TrainDef(
            children[1].value,
            _nodes(children, ast.Setting),
            _join(children[0], children[-1]),
            _span_of(children[1]),
        )

    def setting(self, children):
        name, _, value = children
        return ast.Setting(name.value, value, _join(name, value), _span_of(name))

    def params(self, children):
        return _nodes(children, ast.Param)

    def param(self, children):
        name = children[0]
        return ast.Param(
            name.value, _after(children, "COLON"), _after(children, "EQUAL"), _join(name, children[-1]), _span_of(name)
        )

    def result(self, children):
        return _Outputs(_nodes(children, ast.TypeAnn))

    def type_ann(self, children):
        dims = children[2] if len(children) > 1 else None
        return ast.TypeAnn(children[0].value, dims, _join(children[0], children[-1]))

    def dims(self, children):
        return _nodes(children)

    def dim_binop(self, children):
        left, op, right = children
        return ast.DimBinOp(op.value, left, right, _join(left, right))

    def dim_paren(self, children):
        return dataclasses.replace(children[1], span=_join(children[0], children[2]))

    def dim_int(self, children):
        return ast.DimInt(_int_value(children[0]), _span_of(children[0]))

    def dim_name(self, children):
        return ast.DimName(children[0].value, _span_of(children[0]))

    def param_decl(self, children):
        name = children[1]
        return ast.ParamDecl(
            name.value, children[3], _after(children, "EQUAL"), _join(children[0], children[-1]), _span_of(name),
            _after(children, "SHARDED"),
        )

    def state_decl(self, children):
        name = children[1]
        return ast.StateDecl(
            name.value, children[3], _after(children, "EQUAL"), _join(children[0], children[-1]), _span_of(name)
        )

    def update_stmt(self, children):
        name = children[1]
        return ast.Update(name.value, children[-1], _join(children[0], children[-1]), _span_of(name))

    def if_stmt(self, children):
        condition = children[1]
        closes = [i for i, c in enumerate(children) if isinstance(c, Token) and c.type == "RBRACE"]
        body = tuple(c for c in children[3 : closes[0]] if isinstance(c, ast.Node))
        orelse = tuple(c for c in children[closes[0] + 1 :] if isinstance(c, ast.Node))
        return ast.IfStmt(condition, body, orelse, _join(children[0], children[-1]))

    def if_expr(self, children):
        condition, then, otherwise = children[1], children[3], children[7]
        return _nested(
            ast.IfExpr(then, condition, otherwise, _join(children[0], children[-1])), then, condition, otherwise
        )

    def assign(self, children):
        names = [c for c in children[:-1] if isinstance(c, Token) and c.type == "NAME"]
        return ast.Assign(
            tuple(n.value for n in names),
            children[-1],
            _join(children[0], children[-1]),
            tuple(_span_of(n) for n in names),
        )

    def return_stmt(self, children):
        return ast.Return(_nodes(children), _join(children[0], children[-1]))

    def pipe(self, children):
        left, op, right = children
        return _nested(ast.Pipe(left, right, _join(left, right), _span_of(op)), left, right)

    def compare(self, children):
        left, op, right = children
        return _nested(ast.Compare(op.value, left, right, _join(left, right), _span_of(op)), left, right)

    def binop(self, children):
        left, op, right = children
        return _nested(ast.BinOp(op.value, left, right, _join(left, right), _span_of(op)), left, right)

    def unary(self, children):
        op, operand = children
        return _nested(ast.UnaryOp(op.value, operand, _join(op, operand)), operand)

    def call(self, children):
        func, _, arguments, close = children
        positional = tuple(a for a in arguments if not isinstance(a, ast.Keyword))
        keywords = tuple(a for a in arguments if isinstance(a, ast.Keyword))
        self._check_argument_order(arguments)
        node = ast.Call(func, positional, keywords, _join(func, close))
        return _nested(node, func, *arguments)

    def _check_argument_order(self, arguments):
        seen_keyword = False
        for argument in arguments:
            if isinstance(argument, ast.Keyword):
                seen_keyword = True
            elif seen_keyword:
                _LOCAL.context.diagnostics.append(
                    Diagnostic(
                        "E0001",
                        "positional argument follows keyword argument",
                        argument.span,
                        label="positional argument",
                        help="move positional arguments before the keyword arguments",
                    )
                )
                return

    def args(self, children):
        return _nodes(children)

    def keyword(self, children):
        name, _, value = children
        return _nested(ast.Keyword(name.value, value, _join(name, value), _span_of(name)), value, extra=0)

    def index(self, children):
        value, _, indices, close = children
        return _nested(ast.Index(value, indices, _join(value, close)), value, *indices)

    def subscripts(self, children):
        return _nodes(children)

    def slice(self, children):
        parts: list = [None]
        for child in children:
            if isinstance(child, Token) and child.type == "COLON":
                parts.append(None)
            else:
                parts[-1] = child
        parts += [None] * (3 - len(parts))
        node = ast.Slice(parts[0], parts[1], parts[2], _join(children[0], children[-1]))
        return _nested(node, *(p for p in parts if p is not None), extra=0)

    def attribute(self, children):
        value, _, name = children
        return _nested(ast.Attribute(value, name.value, _join(value, name)), value)

    def list_lit(self, children):
        items = children[1]
        return _nested(ast.ListExpr(items, _join(children[0], children[-1])), *items)

    def list_items(self, children):
        return _nodes(children)

    def paren(self, children):
        inner = children[1]
        return _nested(dataclasses.replace(inner, span=_join(children[0], children[2])), inner)

    def name(self, children):
        return ast.Name(children[0].value, _span_of(children[0]))

    def int_lit(self, children):
        return ast.Number(_int_value(children[0]), _span_of(children[0]))

    def float_lit(self, children):
        token = children[0]
        value = float(token.value)
        if math.isinf(value):
            _LOCAL.context.diagnostics.append(
                Diagnostic(
                    "E0005",
                    f"number literal `{token.value}` is too large",
                    _span_of(token),
                    label="does not fit in a 64-bit float",
                )
            )
        return ast.Number(value, _span_of(token))

    def string_lit(self, children):
        return ast.String(_decode_string(children[0]), _span_of(children[0]))

    def true_lit(self, children):
        return ast.Bool(True, _span_of(children[0]))

    def false_lit(self, children):
        return ast.Bool(False, _span_of(children[0]))
