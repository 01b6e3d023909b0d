"""The IR's canonical text form: a printer and a parser that round-trip.

Used by `--emit ir` / `ir-after=PASS`, golden files and tests. Printing renumbers values
`%0..` (arguments first), sorts attributes and shows locations only on request; parsing
rebuilds nodes through `Builder.make_node`, so every type is re-inferred and checked.
An argument or result with a role in the function's signature is prefixed with it:
`func @predict(param %0: f32[2, 1] "W", input %1: f32[N, 2] "x") -> (output f32[N, 1])`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from . import dims
from .builder import Builder
from .ir import ARG_ROLES, DTYPES, RESULT_ROLES, Function, Loc, Module, TensorType, Value
from .ops.registry import ShapeError

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")


# ---------------------------------------------------------------------------- printer


def print_module(module: Module, print_loc: bool = False) -> str:
    """The functions of `module` in order, separated by blank lines."""
    return "\n".join(print_function(fn, print_loc) for fn in module)


def print_function(fn: Function, print_loc: bool = False) -> str:
    """`fn` in canonical text form, ending with a newline."""
    numbers: dict[int, int] = {}

    def name_of(value: Value) -> str:
        number = numbers.get(id(value))
        return "%?" if number is None else f"%{number}"

    def define(value: Value) -> str:
        numbers[id(value)] = len(numbers)
        return name_of(value)

    def loc_suffix(loc: Loc) -> str:
        return f" {format_loc(loc)}" if print_loc else ""

    args = [f"{_role_prefix(a.role)}{define(a)}: {format_type(a.type)}{_name_suffix(a.name)}"
            f"{loc_suffix(a.loc)}" for a in fn.args]
    names = fn.result_names if len(fn.result_names) == len(fn.results) else [None] * len(fn.results)
    roles = fn.result_roles or [None] * len(fn.results)
    results = [f"{_role_prefix(role)}{format_type(r.type)}{_name_suffix(n)}"
               for r, n, role in zip(fn.results, names, roles)]
    lines = [f"func @{_format_symbol(fn.name)}({', '.join(args)}) -> ({', '.join(results)})"
             f"{loc_suffix(fn.loc)} {{"]
    for node in fn.nodes:
        operands = ", ".join(name_of(v) for v in node.operands)
        defined = ", ".join(define(r) for r in node.results)
        head = f"{defined} = {node.op}" if node.results else node.op
        attrs = format_attrs(node.attrs, print_loc)
        types = ", ".join(format_type(r.type) for r in node.results) or "()"
        text = " ".join(part for part in (head, operands, attrs) if part)
        # A region's lines (a nested function) are indented one level deeper.
        text = text.replace("\n", "\n  ")
        lines.append(f"  {text} : {types}{loc_suffix(node.loc)}")
    returned = ", ".join(name_of(r) for r in fn.results)
    lines.append(f"  return {returned}".rstrip())
    lines.append("}")
    return "\n".join(lines) + "\n"


def format_type(type: TensorType) -> str:
    shape = ", ".join(dims.format_dim(d, _format_symbol) for d in type.shape)
    return f"{type.dtype}[{shape}]"


def format_loc(loc: Loc) -> str:
    where = f"{json.dumps(loc.file)}:{loc.line}:{loc.col}"
    if loc.gradient_of:
        where += f", gradient_of {json.dumps(loc.gradient_of)}"
    return f"loc({where})"


def format_attrs(attrs: dict[str, Any], print_loc: bool = False) -> str:
    if not attrs:
        return ""
    return "{" + ", ".join(f"{k} = {format_attr(attrs[k], print_loc)}"
                           for k in sorted(attrs)) + "}"


def format_attr(value: Any, print_loc: bool = False) -> str:
    """One attribute value; floats use `repr`, so they parse back exactly; a region is
    its function, printed in full (its values numbered apart from the outer ones)."""
    if isinstance(value, Function):
        return print_function(value, print_loc).rstrip("\n")
    if hasattr(value, "tolist"):  # NumPy scalars and arrays
        value = value.tolist()
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(float(value))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dims.DimExpr):  # in a dims attribute: `"C" * "H" * "W"`
        return dims.format_dim(value, json.dumps)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(format_attr(v) for v in value) + "]"
    raise TypeError(f"cannot print attribute value {value!r} of type {type(value).__name__}")


def _format_symbol(name: str) -> str:
    return name if IDENTIFIER.match(name) else json.dumps(name)


def _role_prefix(role: str | None) -> str:
    return f"{role} " if role else ""


def _name_suffix(name: str | None) -> str:
    return f" {json.dumps(name)}" if name is not None else ""


# ---------------------------------------------------------------------------- parser


class IRParseError(ValueError):
    """Malformed IR text, or text whose printed types differ from the inferred ones."""

    def __init__(self, message: str, line: int, col: int):
        super().__init__(f"line {line}:{col}: {message}")
        self.message = message
        self.line = line
        self.col = col


TOKEN_PATTERN = re.compile(r"""
    (?P<skip>[ \t\r\n]+|//[^\n]*)
  | (?P<value>%[A-Za-z0-9_]+)
  | (?P<symbol>@)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<float>-?(?:\d+\.\d*(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|inf(?![\w.])|nan(?![\w.])))
  | (?P<int>-?\d+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<punct>->|[()\[\]{},:=+*/-])
""", re.VERBOSE)

KEYWORD_VALUES = {"true": True, "false": False, "none": None}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    line: int
    col: int


def tokenize(text: str) -> list[Token]:
    tokens, line, line_start, pos = [], 1, 0, 0
    while pos < len(text):
        match = TOKEN_PATTERN.match(text, pos)
        if match is None:
            raise IRParseError(f"unexpected character {text[pos]!r}", line, pos - line_start + 1)
        kind, word, col = match.lastgroup, match.group(), pos - line_start + 1
        if kind in ("int", "float") and word.startswith("-") and tokens and (
                tokens[-1].kind in ("int", "ident", "string") or tokens[-1].text == ")"):
            # `H - 3` in a dim: a minus after an operand subtracts.
            tokens.append(Token("punct", "-", line, col))
            word, col = word[1:], col + 1
        if kind != "skip":
            tokens.append(Token(kind, word, line, col))
        newlines = match.group().count("\n")
        if newlines:
            line += newlines
            line_start = match.start() + match.group().rindex("\n") + 1
        pos = match.end()
    tokens.append(Token("eof", "", line, pos - line_start + 1))
    return tokens


def parse_module(text: str, source: str = "<ir>") -> Module:
    """The module printed as `text`. Nodes printed without a location are located at
    their line in `text`, under the file name `source`."""
    parser = _Parser(tokenize(text), source)
    module = Module()
    while not parser.at("eof"):
        start = parser.token
        fn = parser.function()
        if fn.name in module.functions:
            raise parser.error(f"function `@{fn.name}` is defined twice", start)
        module.add(fn)
    return module


def parse_function(text: str, source: str = "<ir>") -> Function:
    """The one function printed as `text`."""
    functions = list(parse_module(text, source))
    if len(functions) != 1:
        raise IRParseError(f"expected one function, found {len(functions)}", 1, 1)
    return functions[0]


class _Parser:
    """Recursive descent over the token list; `values` maps `%name` to its value within
    the function being parsed."""

    def __init__(self, tokens: list[Token], source: str):
        self.tokens = tokens
        self.pos = 0
        self.source = source
        self.values: dict[str, Value] = {}

    # Token helpers.

    @property
    def token(self) -> Token:
        return self.tokens[self.pos]

    def at(self, kind: str, text: str | None = None) -> bool:
        tok = self.token
        return tok.kind == kind and (text is None or tok.text == text)

    def accept(self, kind: str, text: str | None = None) -> Token | None:
        if self.at(kind, text):
            self.pos += 1
            return self.tokens[self.pos - 1]
        return None

    def expect(self, kind: str, text: str | None = None) -> Token:
        tok = self.accept(kind, text)
        if tok is None:
            wanted = f"`{text}`" if text else kind
            found = f"`{self.token.text}`" if self.token.text else "end of input"
            raise self.error(f"expected {wanted}, found {found}")
        return tok

    def error(self, message: str, tok: Token | None = None) -> IRParseError:
        tok = tok or self.token
        return IRParseError(message, tok.line, tok.col)

    def here(self, tok: Token) -> Loc:
        return Loc(self.source, tok.line, tok.col)

    def comma_separated(self, item, close: str) -> list:
        items = []
        if not self.at("punct", close):
            items.append(item())
            while self.accept("punct", ","):
                items.append(item())
        self.expect("punct", close)
        return items

    # Grammar.

    def function(self) -> Function:
        start = self.expect("ident", "func")
        self.expect("symbol")
        fn = Function(self.name_or_string())
        self.values = {}
        self.expect("punct", "(")
        self.comma_separated(lambda: self.argument(fn), ")")
        self.expect("punct", "->")
        self.expect("punct", "(")
        declared = self.comma_separated(self.result_decl, ")")
        fn.loc = self.optional_loc() or self.here(start)
        self.expect("punct", "{")
        while not self.at("ident", "return"):
            self.node(fn)
        self.return_statement(fn, declared)
        self.expect("punct", "}")
        return fn

    def argument(self, fn: Function) -> None:
        role = self.role(ARG_ROLES)
        tok = self.expect("value")
        self.expect("punct", ":")
        type = self.tensor_type()
        name = self.string() if self.at("string") else None
        loc = self.optional_loc() or self.here(tok)
        self.define(tok, fn.add_arg(type, name, loc, role))

    def result_decl(self) -> tuple[Token, TensorType, str | None, str | None]:
        role = self.role(RESULT_ROLES)
        tok = self.token
        type = self.tensor_type()
        return tok, type, self.string() if self.at("string") else None, role

    def role(self, roles) -> str | None:
        """An optional role word before an argument or result (not a dtype)."""
        if self.at("ident") and self.token.text not in DTYPES:
            tok = self.expect("ident")
            if tok.text not in roles:
                raise self.error(f"unknown role `{tok.text}`; roles are "
                                 f"{', '.join(roles)}", tok)
            return tok.text
        return None

    def node(self, fn: Function) -> None:
        start = self.token
        defined = []
        if self.at("value"):
            defined = [self.expect("value")]
            while self.accept("punct", ","):
                defined.append(self.expect("value"))
            self.expect("punct", "=")
        op_tok = self.expect("ident")
        operands = []
        if self.at("value"):
            operands = [self.use(self.expect("value"))]
            while self.accept("punct", ","):
                operands.append(self.use(self.expect("value")))
        attrs = self.attr_dict() if self.accept("punct", "{") else {}
        self.expect("punct", ":")
        types = self.result_types()
        loc = self.optional_loc() or self.here(start)
        node = self.make_node(fn, op_tok, operands, attrs, loc)
        if len(defined) != len(node.results):
            raise self.error(f"`{op_tok.text}` has {len(node.results)} results, "
                             f"{len(defined)} are named", start)
        inferred = [r.type for r in node.results]
        if inferred != types:
            printed = ", ".join(map(format_type, types)) or "()"
            actual = ", ".join(map(format_type, inferred)) or "()"
            raise self.error(f"`{op_tok.text}` is printed as `{printed}`, but its type is "
                             f"`{actual}`", op_tok)
        fn.nodes.append(node)
        for tok, value in zip(defined, node.results):
            self.define(tok, value)

    def make_node(self, fn: Function, op_tok: Token, operands, attrs, loc: Loc):
        try:
            return Builder(fn, loc).make_node(op_tok.text, operands, attrs)
        except KeyError:
            raise self.error(f"unknown op `{op_tok.text}`", op_tok) from None
        except ShapeError as error:
            raise self.error(f"`{op_tok.text}`: {error.message}", op_tok) from None
        except (ValueError, TypeError) as error:
            raise self.error(str(error), op_tok) from None

    def return_statement(self, fn: Function, declared) -> None:
        tok = self.expect("ident", "return")
        if self.at("value"):
            fn.results = [self.use(self.expect("value"))]
            while self.accept("punct", ","):
                fn.results.append(self.use(self.expect("value")))
        if len(fn.results) != len(declared):
            raise self.error(f"`return` gives {len(fn.results)} values, the signature "
                             f"declares {len(declared)}", tok)
        for value, (decl_tok, type, _, _) in zip(fn.results, declared):
            if value.type != type:
                raise self.error(f"result declared `{format_type(type)}` but returned "
                                 f"value is `{format_type(value.type)}`", decl_tok)
        names = [name for _, _, name, _ in declared]
        if any(name is not None for name in names):
            if any(name is None for name in names):
                raise self.error("either every result is named or none is", tok)
            fn.result_names = names
        roles = [role for _, _, _, role in declared]
        if any(role is not None for role in roles):
            fn.result_roles = roles

    def result_types(self) -> list[TensorType]:
        if self.accept("punct", "("):
            self.expect("punct", ")")
            return []
        types = [self.tensor_type()]
        while self.accept("punct", ","):
            types.append(self.tensor_type())
        return types

    def tensor_type(self) -> TensorType:
        tok = self.expect("ident")
        if tok.text not in DTYPES:
            raise self.error(f"unknown element type `{tok.text}`", tok)
        self.expect("punct", "[")
        return TensorType(tok.text, tuple(self.comma_separated(self.dim, "]")))

    def dim(self) -> dims.Dim:
        """A dim: an int, a symbol (an identifier or a string) or arithmetic on them."""
        tok = self.token
        try:
            return dims.parse_tokens(_DimCursor(self))
        except dims.DimError as error:
            raise self.error(str(error), tok) from None

    def attr_dict(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {}

        def entry():
            key = self.expect("ident")
            self.expect("punct", "=")
            if key.text in attrs:
                raise self.error(f"attribute `{key.text}` is given twice", key)
            attrs[key.text] = self.attr_value()

        self.comma_separated(entry, "}")
        return attrs

    def attr_value(self) -> Any:
        tok = self.token
        if self.at("ident", "func"):
            return self.region()
        if self.accept("punct", "["):
            return tuple(self.comma_separated(self.attr_value, "]"))
        if self.accept("float"):
            return float(tok.text)
        if tok.kind in ("int", "string") or (tok.kind, tok.text) == ("punct", "("):
            return self.dim()  # an int, a string, or a dim such as `"H" * "W"`
        if tok.kind == "ident" and tok.text in KEYWORD_VALUES:
            self.pos += 1
            return KEYWORD_VALUES[tok.text]
        raise self.error(f"expected an attribute value, found `{tok.text}`")

    def region(self) -> Function:
        """A nested function: closed, so its values are a namespace of their own."""
        outer = self.values
        try:
            return self.function()
        finally:
            self.values = outer

    def optional_loc(self) -> Loc | None:
        if not self.accept("ident", "loc"):
            return None
        self.expect("punct", "(")
        file = self.string()
        self.expect("punct", ":")
        line = int(self.expect("int").text)
        self.expect("punct", ":")
        col = int(self.expect("int").text)
        gradient_of = None
        if self.accept("punct", ","):
            self.expect("ident", "gradient_of")
            gradient_of = self.string()
        self.expect("punct", ")")
        return Loc(file, line, col, gradient_of)

    def name_or_string(self) -> str:
        return self.string() if self.at("string") else self.expect("ident").text

    def string(self) -> str:
        tok = self.expect("string")
        try:
            return json.loads(tok.text)
        except json.JSONDecodeError:
            raise self.error(f"malformed string {tok.text}", tok) from None

    def define(self, tok: Token, value: Value) -> None:
        if tok.text in self.values:
            raise self.error(f"`{tok.text}` is defined twice", tok)
        self.values[tok.text] = value

    def use(self, tok: Token) -> Value:
        value = self.values.get(tok.text)
        if value is None:
            raise self.error(f"`{tok.text}` is used before it is defined", tok)
        return value


class _DimCursor:
    """The parser's tokens as `dims.parse_tokens` reads them: `int`, `name`
    (identifiers and strings) and `op` (`+ - * / ( )`)."""

    def __init__(self, parser: _Parser):
        self.parser = parser

    def peek(self) -> tuple[str, str]:
        tok = self.parser.token
        if tok.kind == "int":
            return "int", tok.text
        if tok.kind == "ident":
            return "name", tok.text
        if tok.kind == "string":
            try:
                return "name", json.loads(tok.text)
            except json.JSONDecodeError:
                raise self.parser.error(f"malformed string {tok.text}", tok) from None
        if tok.kind == "punct" and tok.text in {"+", "-", "*", "/", "(", ")"}:
            return "op", tok.text
        return "end", tok.text

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.parser.pos += 1
        return token
