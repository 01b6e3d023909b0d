"""Diagnostics: what every stage reports about user errors, and their rustc-style text.

Produced by the parser, `dsl.resolve` and the compiler; rendered by `render` (one
diagnostic) and `render_all` (a run, with its summary line), in ANSI colour on request,
with source lines coloured by a highlighter the caller passes in.
`suggest` gives the near-miss hints ("a name with a similar name exists: `relu`").
"""

from __future__ import annotations

import difflib
import re
import os
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence, TextIO

from .source import Span

TAB = "    "

BOLD, RED, YELLOW, BLUE, CYAN = "1", "31", "33", "34", "36"
SEVERITY_COLORS = {"error": RED, "warning": YELLOW}


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


# Characters that would act on a terminal rather than show: C0 and C1 controls and DEL
# (escape sequences that retitle, clear or move), and the bidirectional overrides and
# isolates that reorder what is shown ("Trojan Source"). Text from a `.nn` file shows
# them escaped, as Python writes them.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                        "\u2066-\u2069]")


def visible(text: str) -> str:
    """`text` with every character that a terminal would act on escaped, as Python
    escapes it in a string (an ESC shows as backslash, x, 1, b)."""
    return _INVISIBLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _display(text: str) -> str:
    return visible(text.replace("\t", TAB))


def _underline(span: Span, line: int, marker: str) -> tuple[int, int]:
    """(display column, width) of the underline for `span` on its first `line`."""
    source = span.source
    text = source.line_text(line)
    _, col = source.line_col(span.start)
    start = min(col - 1, len(text))
    end = span.end - source.line_starts[line - 1] if span.end_line == line else len(text)
    end = max(start + 1, min(end, len(text)))
    return len(_display(text[:start])), max(1, len(_display(text[start:end])))


class _Style:
    """Wraps the parts of a rendering in ANSI codes, or leaves them as they are."""

    def __init__(self, color: bool, highlight: Callable[[str], str] | None = None) -> None:
        self.color = color
        self.highlight = highlight

    def __call__(self, text: str, *codes: str) -> str:
        if not self.color or not text:
            return text
        return f"\x1b[{';'.join(codes)}m{text}\x1b[0m"

    def source(self, text: str) -> str:
        """A line of `.nn` source, coloured by the highlighter when there is one."""
        if not self.color or not text or self.highlight is None:
            return text
        return self.highlight(text)


def supports_color(stream: TextIO) -> bool:
    """Whether diagnostics written to `stream` should be coloured: a terminal that is
    not `dumb`, and no `NO_COLOR` (https://no-color.org) in the environment."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _snippet_lines(labels: Sequence[tuple[Label, str]], width: int, style: _Style,
                   severity: str) -> list[str]:
    bar = style(" " * width + " |", BOLD, BLUE)
    out = [bar]
    by_line: dict[int, list[tuple[Label, str]]] = {}
    for label, marker in labels:
        by_line.setdefault(label.span.line, []).append((label, marker))
    for line in sorted(by_line):
        source = by_line[line][0][0].span.source
        text = _display(source.line_text(line)).rstrip()
        gutter = style(f"{line:>{width}} |", BOLD, BLUE)
        out.append(f"{gutter} {style.source(text)}" if text else gutter)
        for label, marker in sorted(by_line[line], key=lambda item: item[0].span.start):
            column, length = _underline(label.span, line, marker)
            color = SEVERITY_COLORS.get(severity, CYAN) if marker == "^" else BLUE
            mark = marker * length + (" " + visible(label.message) if label.message else "")
            out.append(f"{bar} {' ' * column}{style(mark, BOLD, color)}")
    return out


def render(diag: Diagnostic, color: bool = False,
           highlight: Callable[[str], str] | None = None) -> str:
    """The diagnostic as rustc prints it: header, location, snippets, notes and help;
    with `color`, in ANSI colours, each source line passed through `highlight` (which
    colours one line of `.nn` source) when given."""
    style = _Style(color, highlight)
    primary = Label(diag.span, diag.label)
    here = [(primary, "^")] + [(l, "-") for l in diag.secondary if l.span.source.name == diag.span.source.name]
    elsewhere: dict[str, list[tuple[Label, str]]] = {}
    for label in diag.secondary:
        if label.span.source.name != diag.span.source.name:
            elsewhere.setdefault(label.span.source.name, []).append((label, "-"))
    all_lines = [label.span.line for label, _ in here]
    all_lines += [label.span.line for group in elsewhere.values() for label, _ in group]
    width = len(str(max(all_lines)))
    pad = " " * width
    severity = style(f"{diag.severity}[{diag.code}]", BOLD,
                     SEVERITY_COLORS.get(diag.severity, CYAN))
    out = [f"{severity}{style(': ' + visible(diag.message), BOLD)}",
           f"{pad}{style('-->', BOLD, BLUE)} {visible(str(diag.span))}"]
    out += _snippet_lines(here, width, style, diag.severity)
    for group in elsewhere.values():
        first = min(group, key=lambda item: item[0].span.start)[0]
        out.append(f"{pad}{style(':::', BOLD, BLUE)} {visible(str(first.span))}")
        out += _snippet_lines(group, width, style, diag.severity)
    trailer = [f"{pad} {style('=', BOLD, BLUE)} {style('note:', BOLD)} {visible(note)}"
               for note in diag.notes]
    if diag.help:
        trailer.append(f"{pad} {style('=', BOLD, BLUE)} {style('help:', BOLD)} "
                       f"{visible(diag.help)}")
    if trailer:
        out.append(style(pad + " |", BOLD, BLUE))
        out += trailer
    return "\n".join(out)


def render_all(diags: Sequence[Diagnostic], unit: str | None = None, color: bool = False,
               highlight: Callable[[str], str] | None = None) -> str:
    """Every diagnostic, each followed by a blank line, then the summary line; `color`
    and `highlight` as for `render`."""
    style = _Style(color)
    diags = tuple(diags)
    text = "".join(render(d, color, highlight) + "\n\n" for d in diags)
    errors = sum(1 for d in diags if d.severity == "error")
    if errors:
        name = unit or diags[0].span.source.name
        plural = "error" if errors == 1 else "errors"
        summary = f": could not compile `{visible(name)}` due to {errors} previous {plural}"
        text += f"{style('error', BOLD, RED)}{style(summary, BOLD)}\n"
    return text
