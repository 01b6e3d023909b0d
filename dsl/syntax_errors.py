"""Syntax-error diagnostics: Lark's parse exceptions turned into E0001–E0005 and E0104.

Used by dsl/parser.py. Expected terminals become words ("expected one of: name,
`(`"), and common mistakes get specific messages: an unclosed bracket points at its
opening one, `=` for `==`, a keyword used as a name, a stray `;` or `'`.
"""

from __future__ import annotations

from lark import Lark, Token
from lark.exceptions import LexError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from .diagnostics import Diagnostic, Label
from .source import SourceFile, Span

REGEX_TERMINAL_WORDS = {"NAME": "name", "INT": "number", "FLOAT": "number", "STRING": "string", "$END": "end of input"}
EXPRESSION_START = {"NAME", "INT", "FLOAT", "STRING", "TRUE", "FALSE", "LPAR", "LSQB", "MINUS", "PLUS",
                    "IF"}
OPERATORS = {"PIPE", "EQEQ", "NOTEQ", "LT", "LE", "GT", "GE", "PLUS", "MINUS", "STAR", "SLASH", "AT", "PERCENT", "POW"}
COMPARISONS = {"EQEQ", "NOTEQ", "LT", "LE", "GT", "GE"}
POSTFIX = {"LPAR", "LSQB", "DOT"}
KEYWORDS = {"IMPORT", "MODEL", "LAYER", "FN", "TRAIN", "PARAM", "STATE", "SHARDED", "UPDATE", "RETURN", "IF",
            "ELSE", "TRUE", "FALSE"}
ITEM_KEYWORDS = {"IMPORT", "MODEL", "LAYER", "FN", "TRAIN"}
OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
CLOSERS = {close: open_ for open_, close in OPENERS.items()}
CHARACTER_HELP = {
    ";": "statements need no `;` between them: remove it",
    "'": 'strings use double quotes: `"..."`',
    "|": "did you mean the pipe operator `|>`?",
    "!": "there is no `!` operator; `!=` compares for inequality",
    "&": "there is no `&` operator in .nn",
    "\\": "a `\\` is only valid inside a string literal",
}


def describe_expected(expected: set[str], lark: Lark) -> str:
    """Terminal names as words: "expected one of: expression, `)`"."""
    patterns = {t.name: t.pattern for t in lark.terminals}
    words: list[str] = []
    remaining = set(expected)
    if {"NAME", "INT", "STRING", "LPAR"} <= remaining:
        words.append("expression")
        remaining -= EXPRESSION_START
    if {"STAR", "SLASH", "AT", "PERCENT"} <= remaining:
        words.append("operator")
        remaining -= OPERATORS | POSTFIX
    rest = set()
    for name in remaining:
        if name in REGEX_TERMINAL_WORDS:
            rest.add(REGEX_TERMINAL_WORDS[name])
        elif name in patterns and patterns[name].type == "str":
            rest.add(f"`{patterns[name].value}`")
        else:
            rest.add(name.lower())
    words += sorted(rest, key=lambda w: (w.startswith("`"), w))
    if len(words) == 1:
        return f"expected {words[0]}"
    return "expected one of: " + ", ".join(words)


def _scan(text: str, lark: Lark, stop: int) -> tuple[list[Token], Token | None]:
    """Tokens that start before `stop`, and the first token after the one at `stop`."""
    before: list[Token] = []
    following = None
    try:
        for token in lark.lex(text):
            if token.start_pos < stop:
                before.append(token)
            elif token.start_pos > stop:
                following = token
                break
    except LexError:
        pass
    return before, following


def _open_brackets(tokens: list[Token]) -> list[Token]:
    stack: list[Token] = []
    for token in tokens:
        if token.type in OPENERS:
            stack.append(token)
        elif token.type in CLOSERS and stack and stack[-1].type == CLOSERS[token.type]:
            stack.pop()
    return stack


def _printable(char: str) -> str:
    return char if char.isprintable() and char != "`" else f"\\u{{{ord(char):04x}}}"


def diagnose(error: UnexpectedInput, source: SourceFile, lark: Lark, parsed_text: str | None = None) -> Diagnostic:
    """The diagnostic for one Lark exception raised while parsing `parsed_text`.

    `parsed_text` is `source.text`, or a copy with a prefix blanked out after an
    earlier error; spans always refer to `source`.
    """
    text = source.text if parsed_text is None else parsed_text
    if isinstance(error, UnexpectedCharacters):
        return _unexpected_character(error.pos_in_stream, source)
    expected = _expected(error)
    if isinstance(error, UnexpectedToken) and error.token.type != "$END":
        return _unexpected_token(error.token, expected, source, text, lark)
    return _unexpected_end(expected, source, text, lark)


def _expected(error: UnexpectedInput) -> set[str]:
    """The terminals that can follow; exact even where LALR merged lookaheads."""
    interactive = getattr(error, "interactive_parser", None)
    if interactive is not None:
        accepted = {name for name in interactive.accepts() if name != "$END"}
        if accepted:
            return accepted
    return {name for name in (getattr(error, "expected", ()) or ()) if name != "$END"}


def _unexpected_character(position: int, source: SourceFile) -> Diagnostic:
    char = source.text[position]
    if char == '"':
        line_end = source.text.find("\n", position)
        end = len(source.text) if line_end == -1 else line_end
        return Diagnostic(
            "E0005",
            "unterminated string literal",
            Span(source, position, end),
            label="this string is never closed",
            help='close it with `"` on the same line',
        )
    return Diagnostic(
        "E0002",
        f"unexpected character `{_printable(char)}`",
        Span(source, position, position + 1),
        label="not valid here",
        help=CHARACTER_HELP.get(char),
    )


def _unexpected_end(expected: set[str], source: SourceFile, text: str, lark: Lark) -> Diagnostic:
    tokens, _ = _scan(text, lark, len(text) + 1)
    end = tokens[-1].end_pos if tokens else 0
    unclosed = _open_brackets(tokens)
    secondary = tuple(Label(Span(source, t.start_pos, t.end_pos), f"unclosed `{t.value}`") for t in unclosed[-1:])
    return Diagnostic(
        "E0003",
        "unexpected end of input",
        Span(source, end, end),
        label="the input ends here",
        secondary=secondary,
        help=describe_expected(expected, lark) if expected else None,
    )


def _unexpected_token(token: Token, expected: set[str], source: SourceFile, text: str, lark: Lark) -> Diagnostic:
    span = Span(source, token.start_pos, token.end_pos)
    before, following = _scan(text, lark, token.start_pos)
    unclosed = _open_brackets(before)
    expected_words = describe_expected(expected, lark)
    what = "keyword" if token.type in KEYWORDS else "token"
    next_type = following.type if following is not None else "$END"
    looks_like_start = next_type in ("NAME", "STRING")

    if token.type in ITEM_KEYWORDS and looks_like_start and any(t.type == "LBRACE" for t in unclosed):
        brace = next(t for t in reversed(unclosed) if t.type == "LBRACE")
        return Diagnostic(
            "E0001",
            f"unexpected keyword `{token.value}`",
            span,
            label="a new definition starts here",
            secondary=(Label(Span(source, brace.start_pos, brace.end_pos), "this `{` is never closed"),),
            help=f"add `}}` to close the body before `{token.value}`",
        )
    if token.type in KEYWORDS and "NAME" in expected and not looks_like_start:
        return Diagnostic(
            "E0104",
            f"expected a name, found keyword `{token.value}`",
            span,
            label="reserved keyword",
            help=f"`{token.value}` is a keyword and cannot be used as a name; rename it, e.g. `{token.value}_`",
        )
    if token.type in CLOSERS:
        return _stray_closer(token, span, unclosed, expected_words, source)
    help_text = expected_words
    if token.type == "EQUAL" and _after_sharded(before):
        help_text = ('the initializer comes before the sharding: '
                     '`param W: f32[4, 8] = glorot_uniform sharded [none, "model"]`')
    elif token.type == "EQUAL" and "EQEQ" in expected:
        help_text = "use `==` to compare values; `=` only binds a name at the start of a statement"
    elif token.type in COMPARISONS and not COMPARISONS & expected:
        help_text = "comparisons do not chain: compare two values at a time"
    secondary = ()
    if unclosed and CLOSERS.get(next(iter(expected), "")) == unclosed[-1].type and len(expected) == 1:
        opener = unclosed[-1]
        secondary = (Label(Span(source, opener.start_pos, opener.end_pos), f"unclosed `{opener.value}`"),)
    return Diagnostic(
        "E0001", f"unexpected {what} `{token.value}`", span, label=f"unexpected {what}", secondary=secondary, help=help_text
    )


def _after_sharded(before: list[Token]) -> bool:
    """Whether the tokens end inside a `param`'s `sharded` clause."""
    starts = [i for i, t in enumerate(before) if t.type in ("PARAM", "SHARDED")]
    return bool(starts) and before[starts[-1]].type == "SHARDED"


def _stray_closer(token: Token, span: Span, unclosed: list[Token], expected_words: str, source: SourceFile) -> Diagnostic:
    if not unclosed:
        return Diagnostic(
            "E0001",
            f"unexpected closing delimiter `{token.value}`",
            span,
            label="nothing to close here",
            help=f"remove it: no `{_opener_text(token.type)}` is open here",
        )
    opener = unclosed[-1]
    opener_span = Span(source, opener.start_pos, opener.end_pos)
    if OPENERS[opener.type] != token.type:
        return Diagnostic(
            "E0001",
            f"mismatched closing delimiter `{token.value}`",
            span,
            label="does not match the open bracket",
            secondary=(Label(opener_span, f"unclosed `{opener.value}`"),),
            help=expected_words,
        )
    return Diagnostic(
        "E0001",
        f"unexpected token `{token.value}`",
        span,
        label="unexpected token",
        help=expected_words,
    )


def _opener_text(closer_type: str) -> str:
    return {"RPAR": "(", "RSQB": "[", "RBRACE": "{"}[closer_type]
