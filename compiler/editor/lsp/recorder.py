"""What the language server keeps from one compilation of a document: the front end's
`Observer`, recording by source range (offsets) the type of every expression, binding,
`param` and layer call in that document, for hover. Other files' spans are ignored."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from ...frontend.trace import Observer
from ...frontend.values import (Builtin, DimSym, Dtype, FnRef, GradOf, LayerInstance,
                                LayerRef, ModelRef, Spec, kind_name)
from ...ir import Value

MAX_KINDS = 4  # distinct types shown for one expression (a layer used several times)


def describe(value) -> str:
    """A value in a word: a tensor's type (`f32[B, 512]`), or what it is."""
    if isinstance(value, Value):
        return str(value.type)
    if isinstance(value, bool):
        return f"bool `{'true' if value else 'false'}`"
    if isinstance(value, (int, float)):
        return f"{type(value).__name__} `{value}`"
    if isinstance(value, DimSym):
        return f"dim `{value.name}` (symbolic)"
    if isinstance(value, Dtype):
        return f"dtype `{value.name}`"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(describe(v) for v in value[:6]) + (", ..." if len(value) > 6 else "")
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    if isinstance(value, LayerInstance):
        return f"a `{value.definition.name}` layer"
    if isinstance(value, Spec):
        args = ", ".join(f"{k}={v}" for k, v in value.args.items())
        return f"{value.kind} `{value.name}({args})`"
    if isinstance(value, GradOf):
        return "a gradient function"
    return kind_name(value)


@dataclass
class Entry:
    """What one source range evaluated to, each distinct description once."""

    start: int
    end: int
    texts: list[str] = field(default_factory=list)
    value: object = None  # the first value, for callables (their signature and doc)

    def add(self, value) -> None:
        if self.value is None:
            self.value = value
        text = describe(value)
        if text not in self.texts and len(self.texts) < MAX_KINDS:
            self.texts.append(text)


@dataclass
class LayerCall:
    name: str
    layer: str
    output: str
    params: int

    def __str__(self) -> str:
        return f"{self.name} ({self.layer}) → {self.output} — {self.params:,} params"


class Recorder(Observer):
    """Collects, for the document named `source_name`, entries keyed by (start, end)."""

    def __init__(self, source_name: str):
        self.source_name = source_name
        self.values: dict[tuple[int, int], Entry] = {}
        self.bindings: dict[tuple[int, int], Entry] = {}
        self.params: dict[tuple[int, int], list[str]] = {}
        self.layers: dict[int, list[LayerCall]] = {}  # by the start of the layer's name
        self._sorted: list[Entry] | None = None

    def _key(self, span):
        if span is None or span.source.name != self.source_name:
            return None
        return span.start, span.end

    # The Observer protocol

    def on_value(self, node, value) -> None:
        key = self._key(node.span)
        if key is not None:
            self.values.setdefault(key, Entry(*key)).add(value)
            self._sorted = None

    def on_binding(self, name, span, value) -> None:
        key = self._key(span)
        if key is not None:
            self.bindings.setdefault(key, Entry(*key)).add(value)

    def on_param(self, stmt, spec) -> None:
        key = self._key(stmt.name_span)
        if key is not None:
            count = 1
            for dim in spec.type.shape:
                count *= dim if isinstance(dim, int) else 1
            what = "params" if spec.value.role == "param" else "values of state"
            text = f"{spec.path}: {spec.type} — {count:,} {what}"
            if spec.init is not None:
                text += f", initialized by `{spec.init.name}`"
            lines = self.params.setdefault(key, [])
            if text not in lines and len(lines) < MAX_KINDS:
                lines.append(text)

    def on_layer(self, span, instance, record) -> None:
        where = self._key(instance.span) or self._key(span)
        if where is not None:
            call = LayerCall(record.name, record.layer, record.output, record.params)
            calls = self.layers.setdefault(where[0], [])
            if all(str(c) != str(call) for c in calls) and len(calls) < MAX_KINDS:
                calls.append(call)

    # Queries

    def innermost(self, offset: int) -> Entry | None:
        """The smallest recorded expression whose range holds `offset`."""
        if self._sorted is None:
            self._sorted = sorted(self.values.values(), key=lambda e: (e.start, -e.end))
        starts = [e.start for e in self._sorted]
        best = None
        for entry in reversed(self._sorted[:bisect.bisect_right(starts, offset)]):
            if entry.start <= offset < entry.end and (
                    best is None or entry.end - entry.start < best.end - best.start):
                best = entry
        return best

    def callable_at(self, start: int, end: int):
        entry = self.values.get((start, end))
        value = entry.value if entry else None
        return value if isinstance(value, (Builtin, FnRef, LayerRef, ModelRef)) else None
