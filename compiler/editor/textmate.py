"""Writes the VS Code TextMate grammar, vscode/syntaxes/dslc.tmLanguage.json, from the
hand-written `TEMPLATE` below and the word lists of `vocabulary.py`.

`python -m dslc.compiler.editor.textmate` rewrites it; `--check` fails if the committed
file differs. Placeholders `<<...>>` in the template's regexes become alternations.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

from . import vocabulary

GRAMMAR_FILE = Path(__file__).parent / "vscode" / "syntaxes" / "dslc.tmLanguage.json"

KEYWORD_SCOPES = {
    "declaration": "storage.type.{word}.dslc",
    "import": "keyword.control.import.dslc",
    "control": "keyword.control.{word}.dslc",
    "constant": "constant.language.boolean.dslc",
}
KEYWORD_WORDS = {"fn": "function"}

BUILTIN_SCOPES = {
    "layer": "support.class.layer.dslc",
    "activation": "support.function.activation.dslc",
    "loss": "support.function.loss.dslc",
    "metric": "support.function.metric.dslc",
    "function": "support.function.builtin.dslc",
    "initializer": "support.function.initializer.dslc",
    "optimizer": "support.class.optimizer.dslc",
    "schedule": "support.class.schedule.dslc",
    "data": "support.function.data.dslc",
    "callback": "support.class.callback.dslc",
    "dtype": "storage.type.dtype.dslc",
    "constant": "support.constant.dslc",
}

OPERATOR_SCOPES = {
    "arrow": "keyword.operator.arrow.dslc",
    "pipe": "keyword.operator.pipe.dslc",
    "power": "keyword.operator.arithmetic.power.dslc",
    "matmul": "keyword.operator.arithmetic.matmul.dslc",
    "comparison": "keyword.operator.comparison.dslc",
    "assignment": "keyword.operator.assignment.dslc",
    "arithmetic": "keyword.operator.arithmetic.dslc",
    "accessor": "punctuation.accessor.dslc",
    "separator": "punctuation.separator.{word}.dslc",
    "bracket": "punctuation.section.{word}.dslc",
}
OPERATOR_WORDS = {",": "comma", ":": "colon", "(": "parens.begin", ")": "parens.end",
                  "[": "brackets.begin", "]": "brackets.end", "{": "braces.begin",
                  "}": "braces.end"}

NOT_A_WORD = r"(?<![A-Za-z0-9_.])"

TEMPLATE: dict[str, Any] = {
    "name": "dslc",
    "scopeName": "source.dslc",
    "fileTypes": ["nn"],
    "patterns": [
        {"include": "#comment"},
        {"include": "#definition"},
        {"include": "#train-block"},
        {"include": "#layer-signature"},
        {"include": "#param-declaration"},
        {"include": "#binding"},
        {"include": "#expression"},
    ],
    "repository": {
        "comment": {
            "name": "comment.line.number-sign.dslc",
            "match": r"(#).*$",
            "captures": {"1": {"name": "punctuation.definition.comment.dslc"}},
        },
        "string": {
            "name": "string.quoted.double.dslc",
            "begin": r'"',
            "beginCaptures": {"0": {"name": "punctuation.definition.string.begin.dslc"}},
            "end": r'"|$',
            "endCaptures": {"0": {"name": "punctuation.definition.string.end.dslc"}},
            "patterns": [{"name": "constant.character.escape.dslc", "match": r"\\."}],
        },
        "number": {
            "patterns": [
                {"name": "constant.numeric.float.dslc",
                 "match": NOT_A_WORD + r"(?:<<float>>)(?![A-Za-z0-9_.])"},
                {"name": "constant.numeric.integer.dslc",
                 "match": NOT_A_WORD + r"<<int>>(?![A-Za-z0-9_.])"},
            ],
        },
        "definition": {
            "patterns": [
                {"begin": r"\b(<<kw:model>>)\s+(<<name>>)\s*(\()",
                 "beginCaptures": {"1": {"name": "storage.type.model.dslc"},
                                   "2": {"name": "entity.name.type.model.dslc"},
                                   "3": {"name": "punctuation.section.parens.begin.dslc"}},
                 "end": r"\)",
                 "endCaptures": {"0": {"name": "punctuation.section.parens.end.dslc"}},
                 "name": "meta.definition.model.dslc",
                 "patterns": [{"include": "#parameters"}]},
                {"begin": r"\b(<<kw:layer>>)\s+(<<name>>)\s*(\()",
                 "beginCaptures": {"1": {"name": "storage.type.layer.dslc"},
                                   "2": {"name": "entity.name.type.layer.dslc"},
                                   "3": {"name": "punctuation.section.parens.begin.dslc"}},
                 "end": r"\)",
                 "endCaptures": {"0": {"name": "punctuation.section.parens.end.dslc"}},
                 "name": "meta.definition.layer.dslc",
                 "patterns": [{"include": "#parameters"}]},
                {"begin": r"\b(<<kw:fn>>)\s+(<<name>>)\s*(\()",
                 "beginCaptures": {"1": {"name": "storage.type.function.dslc"},
                                   "2": {"name": "entity.name.function.dslc"},
                                   "3": {"name": "punctuation.section.parens.begin.dslc"}},
                 "end": r"\)",
                 "endCaptures": {"0": {"name": "punctuation.section.parens.end.dslc"}},
                 "name": "meta.definition.function.dslc",
                 "patterns": [{"include": "#parameters"}]},
                {"match": r"\b(<<kw:model>>)\s+(<<name>>)",
                 "captures": {"1": {"name": "storage.type.model.dslc"},
                              "2": {"name": "entity.name.type.model.dslc"}}},
                {"match": r"\b(<<kw:layer>>)\s+(<<name>>)",
                 "captures": {"1": {"name": "storage.type.layer.dslc"},
                              "2": {"name": "entity.name.type.layer.dslc"}}},
                {"match": r"\b(<<kw:fn>>)\s+(<<name>>)",
                 "captures": {"1": {"name": "storage.type.function.dslc"},
                              "2": {"name": "entity.name.function.dslc"}}},
            ],
        },
        "parameters": {
            "patterns": [
                {"include": "#comment"},
                {"match": r"(?:(?<=[(,])|^)\s*(<<name>>)\b(?!\s*\()",
                 "captures": {"1": {"name": "variable.parameter.dslc"}}},
                {"include": "#expression"},
            ],
        },
        "train-block": {
            "patterns": [
                {"begin": r"\b(<<kw:train>>)\s+(<<name>>)\s*(\{)",
                 "beginCaptures": {"1": {"name": "storage.type.train.dslc"},
                                   "2": {"name": "entity.name.type.model.dslc"},
                                   "3": {"name": "punctuation.section.braces.begin.dslc"}},
                 "end": r"\}",
                 "endCaptures": {"0": {"name": "punctuation.section.braces.end.dslc"}},
                 "name": "meta.train.dslc",
                 "patterns": [{"include": "#comment"}, {"include": "#setting"},
                              {"include": "#expression"}]},
                {"match": r"\b(<<kw:train>>)\s+(<<name>>)",
                 "captures": {"1": {"name": "storage.type.train.dslc"},
                              "2": {"name": "entity.name.type.model.dslc"}}},
            ],
        },
        "setting": {
            "patterns": [
                {"match": r"^\s*(<<settings>>)\s*(=)(?!=)",
                 "captures": {"1": {"name": "support.type.property-name.setting.dslc"},
                              "2": {"name": "keyword.operator.assignment.dslc"}}},
                {"match": r"^\s*(<<name>>)\s*(=)(?!=)",
                 "captures": {"1": {"name": "variable.other.property.dslc"},
                              "2": {"name": "keyword.operator.assignment.dslc"}}},
            ],
        },
        "layer-signature": {
            "name": "meta.signature.layer.dslc",
            "begin": r"^\s*(\()(?=.*\)\s*->)",
            "beginCaptures": {"1": {"name": "punctuation.section.parens.begin.dslc"}},
            "end": r"\)",
            "endCaptures": {"0": {"name": "punctuation.section.parens.end.dslc"}},
            "patterns": [{"include": "#parameters"}],
        },
        "param-declaration": {
            "match": r"\b(<<kw:param>>)\s+(<<name>>)",
            "captures": {"1": {"name": "storage.type.param.dslc"},
                         "2": {"name": "variable.other.param.dslc"}},
        },
        "binding": {
            "match": r"^\s*(<<name>>(?:\s*,\s*<<name>>)*)\s*(=)(?!=)",
            "captures": {
                "1": {"patterns": [{"name": "variable.other.definition.dslc",
                                    "match": r"<<name>>"},
                                   {"include": "#operator"}]},
                "2": {"name": "keyword.operator.assignment.dslc"},
            },
        },
        "expression": {
            "patterns": [
                {"include": "#comment"},
                {"include": "#string"},
                {"include": "#number"},
                {"include": "#type-annotation"},
                {"include": "#scalar-type"},
                {"include": "#keyword"},
                {"include": "#function-call"},
                {"include": "#builtin"},
                {"include": "#parens"},
                {"include": "#operator"},
                {"name": "variable.other.dslc", "match": r"\b<<name>>\b"},
            ],
        },
        "type-annotation": {
            "name": "meta.type.annotation.dslc",
            "begin": r"\b(<<dtypes>>)\s*(\[)",
            "beginCaptures": {"1": {"name": "storage.type.dtype.dslc"},
                              "2": {"name": "punctuation.section.brackets.begin.dslc"}},
            "end": r"\]",
            "endCaptures": {"0": {"name": "punctuation.section.brackets.end.dslc"}},
            "patterns": [
                {"name": "constant.numeric.integer.dslc", "match": r"\b<<int>>\b"},
                {"name": "variable.other.dimension.dslc", "match": r"\b<<name>>\b"},
                {"include": "#operator"},
            ],
        },
        "scalar-type": {
            "match": r"(?<=:)\s*\b(<<scalar_types>>)\b(?!\s*\[)",
            "captures": {"1": {"name": "storage.type.primitive.dslc"}},
        },
        "function-call": {
            "name": "meta.function-call.dslc",
            "begin": r"(?<!\.)\b(?!(?:<<keywords>>)\b)(<<name>>)\s*(\()",
            "beginCaptures": {
                "1": {"patterns": [{"include": "#builtin"},
                                   {"name": "entity.name.function.call.dslc",
                                    "match": r"<<name>>"}]},
                "2": {"name": "punctuation.definition.arguments.begin.dslc"},
            },
            "end": r"\)",
            "endCaptures": {"0": {"name": "punctuation.definition.arguments.end.dslc"}},
            "contentName": "meta.function-call.arguments.dslc",
            "patterns": [
                {"match": r"\b(<<name>>)\s*(=)(?!=)",
                 "captures": {"1": {"name": "variable.parameter.function-call.dslc"},
                              "2": {"name": "keyword.operator.assignment.dslc"}}},
                {"include": "#expression"},
            ],
        },
        "parens": {
            "begin": r"\(",
            "beginCaptures": {"0": {"name": "punctuation.section.parens.begin.dslc"}},
            "end": r"\)",
            "endCaptures": {"0": {"name": "punctuation.section.parens.end.dslc"}},
            "patterns": [{"include": "#expression"}],
        },
    },
}


def _alternation(words) -> str:
    """`a|bb|c` for a regex, longest first so that no word shadows a longer one."""
    return "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w)))


def _generated_rules() -> dict[str, Any]:
    """The repository entries made entirely from the vocabulary."""
    keyword_patterns = []
    for role, words in vocabulary.keyword_roles().items():
        for word in words:
            scope = KEYWORD_SCOPES[role].format(word=KEYWORD_WORDS.get(word, word))
            keyword_patterns.append({"name": scope, "match": rf"\b{re.escape(word)}\b"})
    kinds: dict[str, list[str]] = {}
    for name, kind in vocabulary.builtin_kind().items():
        kinds.setdefault(kind, []).append(name)
    builtin_patterns = [
        {"name": BUILTIN_SCOPES[kind], "match": rf"(?<!\.)\b(?:{_alternation(kinds[kind])})\b"}
        for kind in vocabulary.BUILTIN_KINDS if kinds.get(kind)
    ]
    operator_patterns = []
    for role, ops in vocabulary.operator_roles().items():
        for op in ops:
            scope = OPERATOR_SCOPES[role].format(word=OPERATOR_WORDS.get(op, op))
            operator_patterns.append((op, {"name": scope, "match": re.escape(op)}))
    operator_patterns.sort(key=lambda item: -len(item[0]))
    return {
        "keyword": {"patterns": keyword_patterns},
        "builtin": {"patterns": builtin_patterns},
        "operator": {"patterns": [pattern for _, pattern in operator_patterns]},
    }


def _placeholders() -> dict[str, str]:
    tokens = vocabulary.token_patterns()
    table = {
        "name": tokens["name"],
        "int": tokens["int"],
        "float": tokens["float"],
        "keywords": _alternation(vocabulary.keywords()),
        "dtypes": _alternation(vocabulary.builtins()["dtype"]),
        "scalar_types": _alternation(vocabulary.SCALAR_TYPES),
        "settings": _alternation(vocabulary.train_settings()),
    }
    table.update({f"kw:{word}": re.escape(word) for word in vocabulary.keywords()})
    return table


def _fill(node: Any, table: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: _fill(value, table) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(item, table) for item in node]
    if isinstance(node, str):
        def substitute(match: re.Match) -> str:
            key = match.group(1)
            if key not in table:
                raise LookupError(f"the TextMate template uses <<{key}>>, which "
                                  f"compiler/editor/vocabulary.py does not define (a keyword "
                                  f"renamed in dslc.lark?)")
            return table[key]
        return re.sub(r"<<([^<>]+)>>", substitute, node)
    return node


def textmate_grammar() -> dict[str, Any]:
    """The complete TextMate grammar as a JSON-ready dict."""
    grammar = _fill(copy.deepcopy(TEMPLATE), _placeholders())
    grammar["repository"].update(_generated_rules())
    grammar["information_for_contributors"] = [
        "Generated by `python -m dslc.compiler.editor.textmate` from the template in "
        "compiler/editor/textmate.py and compiler/editor/vocabulary.py. Do not edit by hand."]
    return grammar


def textmate_json() -> str:
    return json.dumps(textmate_grammar(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dslc.compiler.editor.textmate",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if the committed grammar is out of date")
    args = parser.parse_args(argv)
    text = textmate_json()
    current = GRAMMAR_FILE.read_text(encoding="utf-8") if GRAMMAR_FILE.exists() else None
    if args.check:
        if current != text:
            print(f"{GRAMMAR_FILE} is out of date; run python -m dslc.compiler.editor.textmate",
                  file=sys.stderr)
            return 1
        return 0
    if current != text:
        GRAMMAR_FILE.write_text(text, encoding="utf-8")
        print(f"wrote {GRAMMAR_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
