"""The words editors need, derived from the compiler: keywords and operators from
grammar/dslc.lark, builtin names by kind from the prelude and `builtin_globals()`.

Consumed by the TextMate generator (`textmate.py`), the Pygments lexer and the language
server. `python -m dslc.compiler.editor.vocabulary --json` prints it all.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
from typing import Any

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# What each keyword of the grammar does, for editors to colour it. A keyword added to
# dslc.lark must be given a role here; `keyword_roles()` fails until it is.
KEYWORD_ROLES: dict[str, str] = {
    "model": "declaration",
    "layer": "declaration",
    "fn": "declaration",
    "train": "declaration",
    "param": "declaration",
    "state": "declaration",
    "update": "declaration",
    "sharded": "declaration",
    "import": "import",
    "return": "control",
    "if": "control",
    "else": "control",
    "true": "constant",
    "false": "constant",
}

# The same for the punctuation literals of the grammar.
OPERATOR_ROLES: dict[str, str] = {
    "->": "arrow",
    "|>": "pipe",
    "**": "power",
    "@": "matmul",
    "==": "comparison", "!=": "comparison", "<=": "comparison", ">=": "comparison",
    "<": "comparison", ">": "comparison",
    "=": "assignment",
    "+": "arithmetic", "-": "arithmetic", "*": "arithmetic", "/": "arithmetic",
    "%": "arithmetic",
    ".": "accessor",
    ",": "separator",
    ":": "separator",
    "(": "bracket", ")": "bracket", "[": "bracket", "]": "bracket",
    "{": "bracket", "}": "bracket",
}

# Builtin kinds, most specific first: a name in several kinds is coloured by the first.
BUILTIN_KINDS = ("layer", "activation", "loss", "metric", "function", "initializer",
                 "optimizer", "schedule", "data", "callback", "dtype", "constant")

# Prelude file (compiler/prelude/FILE.nn) -> the kind of the fns defined there.
PRELUDE_KINDS = {"activations": "activation", "layers": "layer", "losses": "loss",
                 "metrics": "metric"}

# Scalar annotations of layer and fn parameters (`units: int`), as
# `compiler.frontend.calls` checks them; tests/test_editor_vocabulary.py compiles each.
SCALAR_TYPES = ("bool", "float", "int", "str")

# Grammar terminals whose regexes editors reuse, by the role editors give them.
TOKEN_TERMINALS = {"name": "NAME", "int": "INT", "float": "FLOAT", "string": "STRING",
                   "comment": "COMMENT"}


@functools.cache
def _literals() -> tuple[str, ...]:
    from ...dsl.parser import get_plain_lark

    return tuple(t.pattern.value for t in get_plain_lark().terminals
                 if t.pattern.type == "str")


@functools.cache
def keywords() -> tuple[str, ...]:
    """The identifier-like literals of the grammar (`model`, `param`, `true`, ...), sorted."""
    return tuple(sorted(lit for lit in _literals() if IDENTIFIER.match(lit)))


@functools.cache
def operators() -> tuple[str, ...]:
    """The punctuation literals of the grammar, longest first (`->`, `|>`, `**`, `@`, ...)."""
    return tuple(sorted((lit for lit in _literals() if not IDENTIFIER.match(lit)),
                        key=lambda lit: (-len(lit), lit)))


def _grouped(names: tuple[str, ...], roles: dict[str, str], what: str) -> dict[str, tuple[str, ...]]:
    missing = [name for name in names if name not in roles]
    if missing:
        raise LookupError(f"grammar/dslc.lark has {what} {', '.join(map(repr, missing))} "
                          f"with no role in compiler/editor/vocabulary.py; add them there")
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(roles[name], []).append(name)
    return {role: tuple(members) for role, members in sorted(groups.items())}


@functools.cache
def keyword_roles() -> dict[str, tuple[str, ...]]:
    """Role -> keywords: declaration, import, control, constant."""
    return _grouped(keywords(), KEYWORD_ROLES, "keywords")


@functools.cache
def operator_roles() -> dict[str, tuple[str, ...]]:
    """Role -> operators, longest first within each role."""
    return _grouped(operators(), OPERATOR_ROLES, "operators")


@functools.cache
def token_patterns() -> dict[str, str]:
    """Regexes (Python syntax) of names, numbers, strings and comments, from the grammar."""
    from ...dsl.parser import get_plain_lark

    by_name = {t.name: t.pattern.value for t in get_plain_lark().terminals}
    return {role: by_name[terminal] for role, terminal in TOKEN_TERMINALS.items()}


@functools.cache
def _prelude_definitions() -> tuple[tuple[str, str, Any], ...]:
    """(kind, prelude file, definition) for every prelude `fn` and `layer`."""
    from ...dsl import ast
    from ..frontend.program import prelude

    rows = []
    for file, module in prelude().items():
        if file not in PRELUDE_KINDS:
            raise LookupError(f"prelude file {file}.nn has no kind in "
                              f"compiler/editor/vocabulary.py PRELUDE_KINDS")
        for item in module.items:
            if isinstance(item, ast.LayerDef):
                rows.append(("layer", file, item))
            elif isinstance(item, ast.FnDef):
                rows.append((PRELUDE_KINDS[file], file, item))
    return tuple(rows)


@functools.cache
def _compiler_builtins() -> tuple[tuple[str, str, Any], ...]:
    """(kind, name, value) for every name of `builtin_globals()`."""
    from ..frontend.builtins import builtin_globals
    from ..frontend.values import Builtin, Dtype

    rows = []
    for name, value in builtin_globals().items():
        if isinstance(value, Builtin):
            kind = value.spec_kind or "function"
        elif isinstance(value, Dtype):
            kind = "dtype"
        else:
            kind = "constant"
        rows.append((kind, name, value))
    return tuple(rows)


@functools.cache
def builtins() -> dict[str, tuple[str, ...]]:
    """Kind -> sorted builtin names; every kind of `BUILTIN_KINDS` is present."""
    kinds: dict[str, set[str]] = {kind: set() for kind in BUILTIN_KINDS}
    for kind, _, definition in _prelude_definitions():
        kinds[kind].add(definition.name)
    for kind, name, _ in _compiler_builtins():
        kinds[kind].add(name)
    kinds["constant"] |= {c for c in ("true", "false") if c not in keywords()}
    return {kind: tuple(sorted(names)) for kind, names in kinds.items()}


@functools.cache
def builtin_kind() -> dict[str, str]:
    """Name -> the one kind editors colour it as (the first of `BUILTIN_KINDS` it is in)."""
    table: dict[str, str] = {}
    for kind, names in builtins().items():
        for name in names:
            table.setdefault(name, kind)
    return table


@functools.cache
def train_settings() -> tuple[str, ...]:
    """The settings a `train` block accepts (`data`, `loss`, `optimizer`, ...), sorted."""
    from ..frontend.train import SETTINGS

    return tuple(sorted(SETTINGS))


def _format_default(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return "none" if value is None else str(value)


def _builtin_signature(name: str, value: Any) -> str:
    from ..frontend.values import REQUIRED, Builtin

    if not isinstance(value, Builtin):
        return name
    params = [p if default is REQUIRED else f"{p}={_format_default(default)}"
              for p, default in value.signature.params]
    return f"{name}({', '.join(params)})"


CONSTANT_DOCS = {"all": "the whole data set as one batch: `batch_size = all`",
                 "none": "no value: an option left unset, as Python's `None`"}


def _builtin_doc(kind: str, name: str, value: Any) -> str:
    from ..frontend.values import Builtin
    from ..ir import DTYPES

    if kind == "dtype":
        return f"element type ({DTYPES[name]})"
    if kind == "constant":
        return CONSTANT_DOCS.get(name, kind)
    doc = value.doc if isinstance(value, Builtin) else ""
    if isinstance(value, Builtin) and value.name != name:
        doc = f"{doc}; `{name}` is `{value.name}`" if doc else f"`{name}` is `{value.name}`"
    return f"{kind}: {doc}" if doc else kind


def _comment_above(definition: Any) -> str:
    """The `#` comment lines directly above a definition, joined into one line."""
    source = definition.span.source
    lines = []
    number = definition.span.line - 1
    while number >= 1 and source.line_text(number).lstrip().startswith("#"):
        lines.append(source.line_text(number).lstrip().lstrip("#").strip())
        number -= 1
    return " ".join(reversed(lines))


def _prelude_signature(definition: Any) -> str:
    from ...dsl import ast

    params = definition.params or ()
    text = f"{definition.name}({', '.join(p.span.text for p in params)})"
    if isinstance(definition, ast.LayerDef) and definition.inputs:
        inputs = ", ".join(p.span.text for p in definition.inputs)
        outputs = ", ".join(o.span.text for o in definition.outputs)
        text += f" ({inputs}) -> {outputs}"
    return text


@functools.cache
def builtin_docs() -> dict[str, tuple[str, str]]:
    """Name -> (signature, one-line doc) for every builtin, e.g. for hover and completion."""
    docs: dict[str, tuple[str, str]] = {}
    for kind, name, value in _compiler_builtins():
        docs[name] = (_builtin_signature(name, value), _builtin_doc(kind, name, value))
    for kind, file, definition in _prelude_definitions():
        doc = _comment_above(definition) or f"from the prelude ({file}.nn)"
        docs[definition.name] = (_prelude_signature(definition), f"{kind}: {doc}")
    return dict(sorted(docs.items()))


def vocabulary() -> dict[str, Any]:
    """Everything above, as JSON-ready data."""
    return {
        "keywords": list(keywords()),
        "keyword_roles": {role: list(names) for role, names in keyword_roles().items()},
        "operators": list(operators()),
        "operator_roles": {role: list(ops) for role, ops in operator_roles().items()},
        "builtins": {kind: list(names) for kind, names in builtins().items()},
        "train_settings": list(train_settings()),
        "scalar_types": list(SCALAR_TYPES),
        "token_patterns": token_patterns(),
        "builtin_docs": {name: {"signature": signature, "doc": doc}
                         for name, (signature, doc) in builtin_docs().items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dslc.compiler.editor.vocabulary",
                                     description="Print dslc's editor vocabulary.")
    parser.add_argument("--json", action="store_true", help="print it all as JSON")
    args = parser.parse_args(argv)
    data = vocabulary()
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        for key in ("keywords", "operators", "train_settings", "scalar_types"):
            print(f"{key}: {' '.join(data[key])}")
        for kind, names in data["builtins"].items():
            print(f"{kind}: {' '.join(names)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
