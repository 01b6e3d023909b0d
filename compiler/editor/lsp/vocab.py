"""The builtin names the language server offers and documents, with their signatures.

Read from `editor.vocabulary` (the one list the editor grammars share) when it is
there; otherwise, and for anything it lacks, from the compiler itself: the builtins of
`frontend.builtins` and the prelude's definitions (their doc is the comment above them).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from ....dsl import ast
from ...frontend.values import REQUIRED, Builtin, Dtype, FnRef, LayerRef, ModelRef
from .outline import Outline

PRELUDE_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                            os.pardir, os.pardir, "prelude"))
PRELUDE_KINDS = {"activations": "activation", "layers": "layer", "losses": "loss",
                 "metrics": "metric"}


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str  # layer, loss, metric, activation, optimizer, schedule, initializer, data, function...
    signature: str
    doc: str


def format_default(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, (Dtype, str)):
        return str(value) if isinstance(value, Dtype) else f'"{value}"'
    if isinstance(value, ast.Node):
        return getattr(getattr(value, "span", None), "text", "...")
    return repr(value)


def builtin_signature(builtin: Builtin) -> str:
    params = [name if default is REQUIRED else f"{name}={format_default(default)}"
              for name, default in builtin.signature.params]
    return f"{builtin.name}({', '.join(params)})"


def _params_text(params) -> str:
    return ", ".join(" ".join(p.span.text.split()) for p in params)


def _types_text(types) -> str:
    texts = [t.span.text for t in types]
    return texts[0] if len(texts) == 1 else f"({', '.join(texts)})"


def definition_signature(definition) -> str:
    """The signature line of a model, layer or fn, as written."""
    if isinstance(definition, ast.ModelDef):
        out = f" -> {_types_text(definition.outputs)}" if definition.outputs else ""
        return f"model {definition.name}({_params_text(definition.inputs)}){out}"
    if isinstance(definition, ast.LayerDef):
        head = f"layer {definition.name}({_params_text(definition.params)})"
        if definition.inputs:
            head += (f"\n    ({_params_text(definition.inputs)})"
                     f" -> {_types_text(definition.outputs)}")
        return head
    if definition.params is None:
        body = definition.body[-1] if definition.body else None
        value = body.values[0].span.text if isinstance(body, ast.Return) and body.values else ""
        return f"fn {definition.name} = {value}"
    out = f" -> {_types_text(definition.outputs)}" if definition.outputs else ""
    return f"fn {definition.name}({_params_text(definition.params)}){out}"


def source_path(name: str) -> str:
    """The file behind a span's source name (prelude files live in the package)."""
    if name.startswith("<prelude>/"):
        return os.path.join(PRELUDE_DIR, name.split("/", 1)[1])
    return os.path.abspath(name)


@functools.cache
def _prelude_outline(name: str) -> Outline:
    with open(source_path(name), encoding="utf-8") as handle:
        return Outline(handle.read())


def definition_doc(definition) -> str:
    """The comment right above a definition in its file."""
    try:
        outline = Outline(definition.span.source.text) \
            if not definition.span.source.name.startswith("<prelude>/") \
            else _prelude_outline(definition.span.source.name)
    except OSError:
        return ""
    item = outline.item_at(definition.span.start)
    return outline.doc_comment(item) if item is not None else ""


@functools.cache
def entries() -> dict[str, Entry]:
    """Every builtin name (compiler builtins and prelude definitions)."""
    from ...frontend.builtins import builtin_globals
    from ...frontend.program import definitions, prelude

    table: dict[str, Entry] = {}
    for name, value in builtin_globals().items():
        if isinstance(value, Builtin):
            table[name] = Entry(name, value.spec_kind or "function", builtin_signature(value),
                                value.doc)
        elif isinstance(value, Dtype):
            table[name] = Entry(name, "dtype", name, f"the element type `{name}`")
        else:
            table[name] = Entry(name, "constant", name, "")
    for kind, module in prelude().items():
        for name, ref in definitions(module).items():
            if isinstance(ref, (FnRef, LayerRef, ModelRef)):
                table[name] = Entry(name, PRELUDE_KINDS.get(kind, kind),
                                    definition_signature(ref.definition),
                                    definition_doc(ref.definition))
    _merge_vocabulary(table)
    return table


def _merge_vocabulary(table: dict[str, Entry]) -> None:
    """Kinds, signatures and docs from `editor.vocabulary`, where it gives them."""
    from .. import vocabulary

    docs = vocabulary.builtin_docs()
    kinds = {}
    for kind, names in vocabulary.builtins().items():
        for name in names:
            kinds.setdefault(name, _singular(kind))
    for name in set(kinds) | set(docs):
        old = table.get(name)
        signature, doc = docs.get(name, (None, None))
        kind = kinds.get(name) or (old.kind if old else "builtin")
        if doc and doc.startswith(f"{kind}: "):
            doc = doc[len(kind) + 2:]  # the kind is shown on its own
        table[name] = Entry(name, kind, signature or (old.signature if old else name),
                            doc or (old.doc if old else ""))


def _singular(kind: str) -> str:
    if kind.endswith("sses"):
        return kind[:-2]
    return kind[:-1] if kind.endswith("s") else kind


def prelude_definition(name: str):
    """The prelude's AST definition of `name`, if it has one."""
    from ...frontend.program import definitions, prelude

    for module in prelude().values():
        ref = definitions(module).get(name)
        if ref is not None:
            return ref.definition
    return None
