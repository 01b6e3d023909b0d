"""Source text and spans: the locations every AST node and diagnostic carries.

A `Span` is a pair of character offsets into a `SourceFile`; line and column
(1-based) are computed lazily from the file's cached line starts.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass


class SourceFile:
    """The name and full text of one `.nn` file."""

    __slots__ = ("name", "text", "_line_starts")

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self._line_starts: list[int] | None = None

    def __repr__(self) -> str:
        return f"SourceFile({self.name!r}, <{len(self.text)} chars>)"

    @property
    def line_starts(self) -> list[int]:
        if self._line_starts is None:
            starts = [0]
            index = self.text.find("\n")
            while index != -1:
                starts.append(index + 1)
                index = self.text.find("\n", index + 1)
            self._line_starts = starts
        return self._line_starts

    @property
    def line_count(self) -> int:
        return len(self.line_starts)

    def line_col(self, offset: int) -> tuple[int, int]:
        """The 1-based (line, column) of a character offset, clamped to the text."""
        offset = max(0, min(offset, len(self.text)))
        line_index = bisect.bisect_right(self.line_starts, offset) - 1
        return line_index + 1, offset - self.line_starts[line_index] + 1

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its line break."""
        starts = self.line_starts
        if not 1 <= line <= len(starts):
            return ""
        end = starts[line] - 1 if line < len(starts) else len(self.text)
        return self.text[starts[line - 1] : end].rstrip("\r")


@dataclass(frozen=True, slots=True, eq=False)
class Span:
    """The half-open range of offsets `[start, end)` in `source`."""

    source: SourceFile
    start: int
    end: int

    @property
    def line(self) -> int:
        return self.source.line_col(self.start)[0]

    @property
    def col(self) -> int:
        return self.source.line_col(self.start)[1]

    @property
    def end_line(self) -> int:
        return self.source.line_col(self.end)[0]

    @property
    def end_col(self) -> int:
        return self.source.line_col(self.end)[1]

    @property
    def text(self) -> str:
        return self.source.text[self.start : self.end]

    @staticmethod
    def join(first: Span, last: Span) -> Span:
        """The smallest span covering both `first` and `last` (same file)."""
        return Span(first.source, min(first.start, last.start), max(first.end, last.end))

    def _key(self) -> tuple[str, int, int]:
        return (self.source.name, self.start, self.end)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Span):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        line, col = self.source.line_col(self.start)
        return f"{self.source.name}:{line}:{col}"

    def __repr__(self) -> str:
        return f"Span({self}, {self.start}..{self.end})"
