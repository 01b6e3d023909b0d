"""The Pygments lexer: found through its entry point by name, alias and `*.nn`, usable
from `pygmentize`, exact on a sample, free of `Error` tokens on every example and
prelude file, and lossless: its tokens always join back into the input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings, strategies as st
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import (Comment, Error, Keyword, Name, Number, Operator, Punctuation,
                            String, Whitespace)

from conftest import EXAMPLES, ROOT
from dslc.compiler.editor.pygments_lexer import DslcLexer

SOURCES = EXAMPLES + sorted((ROOT / "compiler" / "prelude").glob("*.nn"))
LEXER = DslcLexer(stripnl=False, ensurenl=False)


def tokens(text: str) -> list[tuple]:
    return list(LEXER.get_tokens(text))


def joined(text: str) -> str:
    """The lexer's own token values joined (Pygments' `get_tokens` would first turn
    `\\r` into `\\n` and drop a leading BOM, by design)."""
    return "".join(value for _, _, value in LEXER.get_tokens_unprocessed(text))


def test_found_by_name_alias_and_filename():
    assert isinstance(get_lexer_by_name("dslc"), DslcLexer)
    assert isinstance(get_lexer_by_name("nn"), DslcLexer)
    assert isinstance(get_lexer_for_filename("model.nn"), DslcLexer)


def test_pygmentize_highlights_an_example():
    pygmentize = Path(sys.executable).parent / "pygmentize"
    result = subprocess.run([str(pygmentize), "-l", "dslc", "-f", "html",
                             str(ROOT / "examples" / "linear_classifier.nn")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert '<span class="kd">model</span>' in result.stdout
    assert '<span class="kt">f32</span>' in result.stdout
    assert 'class="err"' not in result.stdout


def test_exact_tokens_of_a_sample():
    sample = 'fn f(x: f32[B, 2]) -> f32[] = sum(x @ W) ** 2.5 |> Net("a\\"")  # c\n'
    assert tokens(sample) == [
        (Keyword.Declaration, "fn"), (Whitespace, " "), (Name.Function, "f"),
        (Punctuation, "("), (Name, "x"), (Punctuation, ":"), (Whitespace, " "),
        (Keyword.Type, "f32"), (Punctuation, "["), (Name.Variable, "B"), (Punctuation, ","),
        (Whitespace, " "), (Number.Integer, "2"), (Punctuation, "]"), (Punctuation, ")"),
        (Whitespace, " "), (Operator, "->"), (Whitespace, " "), (Keyword.Type, "f32"),
        (Punctuation, "["), (Punctuation, "]"), (Whitespace, " "), (Operator, "="),
        (Whitespace, " "), (Name.Builtin, "sum"), (Punctuation, "("), (Name, "x"),
        (Whitespace, " "), (Operator, "@"), (Whitespace, " "), (Name, "W"),
        (Punctuation, ")"), (Whitespace, " "), (Operator, "**"), (Whitespace, " "),
        (Number.Float, "2.5"), (Whitespace, " "), (Operator, "|>"), (Whitespace, " "),
        (Name.Function, "Net"), (Punctuation, "("), (String.Double, '"'),
        (String.Double, "a"), (String.Escape, '\\"'), (String.Double, '"'),
        (Punctuation, ")"), (Whitespace, "  "), (Comment.Single, "# c"), (Whitespace, "\n"),
    ]


def test_keywords_and_builtins_by_kind():
    kinds = dict((value, kind) for kind, value in tokens(
        "model, param, train, return, import, true, Dense, relu, SGD, all, i32"))
    assert kinds["model"] == kinds["param"] == kinds["train"] == Keyword.Declaration
    assert kinds["return"] == Keyword and kinds["import"] == Keyword.Namespace
    assert kinds["true"] == Keyword.Constant
    assert kinds["Dense"] == kinds["SGD"] == Name.Builtin
    assert kinds["all"] == Name.Builtin.Pseudo and kinds["i32"] == Keyword.Type


def test_no_error_tokens_on_examples_and_prelude():
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        stream = tokens(text)
        errors = [value for kind, value in stream if kind in Error]
        assert not errors, f"{path.name}: {errors}"
        assert "".join(value for _, value in stream) == text


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_tokens_join_back_into_any_text(text):
    assert joined(text) == text


def _mutated(draw) -> str:
    text = draw(st.sampled_from(SOURCES)).read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 5))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 40)))
        insert = draw(st.one_of(st.just(""), st.sampled_from(['"', "[", "f32[", "#", "\\",
                                                             "|>", "\n", "1e", "."]),
                                st.text(max_size=8)))
        text = text[:start] + insert + text[end:]
    return text


@settings(max_examples=200, deadline=None)
@given(st.composite(_mutated)())
def test_tokens_join_back_into_mutated_examples(text):
    assert joined(text) == text
    if "\r" not in text and not text.startswith("\ufeff"):
        assert "".join(value for _, value in tokens(text)) == text
