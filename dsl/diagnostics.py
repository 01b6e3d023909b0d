"""Diagnostics: what every stage reports about user errors, and their rustc-style text.

Produced by the parser, `dsl.resolve` and the compiler; rendered by `render` (one
diagnostic) and `render_all` (a run, with its summary line). `suggest` gives the
near-miss hints ("a name with a similar name exists: `relu`").
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Sequence

from .source import Span

TAB = "    "


@dataclass(frozen=True, slots=True)
class Label:
    span: Span
    message: str = ""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    label: str = ""
    secondary: tuple[Label, ...] = ()
    notes: tuple[str, ...] = ()
    help: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        return render(self)


class DiagnosticError(Exception):
    """Raised by an API that fails with user errors; `.diagnostics` holds them all."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__(render_all(self.diagnostics) if self.diagnostics else "no diagnostics")


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate most similar to `name` (difflib), or None if none is close."""
    pool = sorted({c for c in candidates if c != name})
    matches = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in pool}
        matches = [lowered[name.lower()]] if name.lower() in lowered else []
    return matches[0] if matches else None


def suggest(name: str, candidates: Iterable[str], kind: str = "name") -> str | None:
    """A help line naming the closest candidate, e.g. "a name with a similar name exists: `relu`"."""
    match = closest(name, candidates)
    return None if match is None else f"a {kind} with a similar name exists: `{match}`"


def _display(text: str) -> str:
    return text.replace("\t", TAB)


def _underline(span: Span, line: int, marker: str) -> tuple[int, int]:
    """(display column, width) of the underline for `span` on its first `line`."""
    source = span.source
    text = source.line_text(line)
    _, col = source.line_col(span.start)
    start = min(col - 1, len(text))
    end = span.end - source.line_starts[line - 1] if span.end_line == line else len(text)
    end = max(start + 1, min(end, len(text)))
    return len(_display(text[:start])), max(1, len(_display(text[start:end])))


def _snippet_lines(labels: Sequence[tuple[Label, str]], width: int) -> list[str]:
    bar = " " * width + " |"
    out = [bar]
    by_line: dict[int, list[tuple[Label, str]]] = {}
    for label, marker in labels:
        by_line.setdefault(label.span.line, []).append((label, marker))
    for line in sorted(by_line):
        source = by_line[line][0][0].span.source
        out.append(f"{line:>{width}} | {_display(source.line_text(line))}".rstrip())
        for label, marker in sorted(by_line[line], key=lambda item: item[0].span.start):
            column, length = _underline(label.span, line, marker)
            mark = " " * column + marker * length
            out.append(f"{bar} {mark}{' ' + label.message if label.message else ''}")
    return out


def render(diag: Diagnostic) -> str:
    """The diagnostic as rustc prints it: header, location, snippets, notes and help."""
    primary = Label(diag.span, diag.label)
    here = [(primary, "^")] + [(l, "-") for l in diag.secondary if l.span.source.name == diag.span.source.name]
    elsewhere: dict[str, list[tuple[Label, str]]] = {}
    for label in diag.secondary:
        if label.span.source.name != diag.span.source.name:
            elsewhere.setdefault(label.span.source.name, []).append((label, "-"))
    all_lines = [label.span.line for label, _ in here]
    all_lines += [label.span.line for group in elsewhere.values() for label, _ in group]
    width = len(str(max(all_lines)))
    out = [f"{diag.severity}[{diag.code}]: {diag.message}", f"{' ' * width}--> {diag.span}"]
    out += _snippet_lines(here, width)
    for group in elsewhere.values():
        first = min(group, key=lambda item: item[0].span.start)[0]
        out.append(f"{' ' * width}::: {first.span}")
        out += _snippet_lines(group, width)
    trailer = [f"{' ' * width} = note: {note}" for note in diag.notes]
    if diag.help:
        trailer.append(f"{' ' * width} = help: {diag.help}")
    if trailer:
        out.append(" " * width + " |")
        out += trailer
    return "\n".join(out)


def render_all(diags: Sequence[Diagnostic], unit: str | None = None) -> str:
    """Every diagnostic, each followed by a blank line, then the summary line."""
    diags = tuple(diags)
    text = "".join(render(d) + "\n\n" for d in diags)
    errors = sum(1 for d in diags if d.severity == "error")
    if errors:
        name = unit or diags[0].span.source.name
        plural = "error" if errors == 1 else "errors"
        text += f"error: could not compile `{name}` due to {errors} previous {plural}\n"
    return text
