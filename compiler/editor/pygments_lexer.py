"""A Pygments lexer for `.nn` files, registered as `dslc` through the `pygments.lexers`
entry point, for pygmentize, Sphinx, MkDocs, Jupyter and coloured CLI diagnostics
(through `highlight.py`).

Its word lists and token regexes come from `vocabulary.py`, built when the lexer is
first used (not on import), so Pygments can list plugins without loading the compiler.
"""

from __future__ import annotations

from typing import Callable

from pygments.lexer import Future, RegexLexer, bygroups, default
from pygments.token import (Comment, Error, Keyword, Name, Number, Operator, Punctuation,
                            String, Whitespace)

from . import vocabulary

__all__ = ["DslcLexer"]

KEYWORD_TOKENS = {"declaration": Keyword.Declaration, "import": Keyword.Namespace,
                  "control": Keyword, "constant": Keyword.Constant}
BUILTIN_TOKENS = {"dtype": Keyword.Type, "constant": Name.Builtin.Pseudo}
PUNCTUATION_ROLES = ("accessor", "bracket", "separator")


class _Deferred(Future):
    """A regex made from the vocabulary when Pygments first compiles the lexer."""

    def __init__(self, build: Callable[[], str]) -> None:
        self.build = build

    def get(self) -> str:
        return self.build()


def _alternation(words) -> str:
    return "|".join(sorted(words, key=lambda w: (-len(w), w)))


def _name() -> str:
    return vocabulary.token_patterns()["name"]


def _words(names: Callable[[], tuple[str, ...]]) -> _Deferred:
    return _Deferred(lambda: rf"(?<![\w.])(?:{_alternation(names())})\b")


def _definition(keyword: str) -> _Deferred:
    return _Deferred(lambda: rf"\b({keyword})(\s+)({_name()})")


def _builtins_of(kind: str) -> Callable[[], tuple[str, ...]]:
    return lambda: tuple(n for n, k in vocabulary.builtin_kind().items() if k == kind)


def _operators(punctuation: bool) -> _Deferred:
    def build() -> str:
        ops = [op for role, members in vocabulary.operator_roles().items()
               if (role in PUNCTUATION_ROLES) == punctuation for op in members]
        return "|".join(_escape(op) for op in sorted(ops, key=len, reverse=True))
    return _Deferred(build)


def _escape(text: str) -> str:
    return "".join("\\" + c if not c.isalnum() else c for c in text)


def _keyword_rules():
    return [(_words(lambda role=role: vocabulary.keyword_roles().get(role, ())), token)
            for role, token in KEYWORD_TOKENS.items()]


def _builtin_rules():
    return [(_words(_builtins_of(kind)), BUILTIN_TOKENS.get(kind, Name.Builtin))
            for kind in vocabulary.BUILTIN_KINDS]


class DslcLexer(RegexLexer):
    """dslc's `.nn` language: models, layers, fns and train blocks."""

    name = "dslc"
    aliases = ["dslc", "nn"]
    filenames = ["*.nn"]
    mimetypes = ["text/x-dslc"]

    tokens = {
        "root": [
            (r"\s+", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r'"', String.Double, "string"),
            (_definition("model"), bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (_definition("layer"), bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (_definition("train"), bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (_definition("fn"), bygroups(Keyword.Declaration, Whitespace, Name.Function)),
            (_definition("param"), bygroups(Keyword.Declaration, Whitespace, Name.Variable)),
            (_Deferred(lambda: rf"(?<![\w.])({_alternation(vocabulary.builtins()['dtype'])})"
                               r"(\s*)(\[)"),
             bygroups(Keyword.Type, Whitespace, Punctuation), "dims"),
            (_Deferred(lambda: rf"(:)(\s*)({_alternation(vocabulary.SCALAR_TYPES)})\b"),
             bygroups(Punctuation, Whitespace, Keyword.Type)),
            *_keyword_rules(),
            *_builtin_rules(),
            (_Deferred(lambda: vocabulary.token_patterns()["float"]), Number.Float),
            (_Deferred(lambda: vocabulary.token_patterns()["int"]), Number.Integer),
            (_Deferred(lambda: rf"(\.)({_name()})"), bygroups(Punctuation, Name.Attribute)),
            (_Deferred(lambda: rf"{_name()}(?=\s*\()"), Name.Function),
            (_Deferred(_name), Name),
            (_operators(punctuation=False), Operator),
            (_operators(punctuation=True), Punctuation),
        ],
        "string": [
            (r'[^"\\\n]+', String.Double),
            (r"\\[^\n]", String.Escape),
            (r'"', String.Double, "#pop"),
            (r"\\", Error),
            default("#pop"),
        ],
        "dims": [
            (r"[ \t\f\r]+", Whitespace),
            (_Deferred(lambda: vocabulary.token_patterns()["int"]), Number.Integer),
            (_Deferred(_name), Name.Variable),
            (r"[-+*/]", Operator),
            (r"[(),]", Punctuation),
            (r"\]", Punctuation, "#pop"),
            default("#pop"),
        ],
    }
