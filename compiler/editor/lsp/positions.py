"""Offsets into a document's text (what dslc spans hold) to LSP positions and back.

LSP lines and characters are 0-based and characters count code units of the encoding
agreed at `initialize` (UTF-16 unless the client offers another); Python strings index
code points, so every non-ASCII character on a line is converted, never assumed.
"""

from __future__ import annotations

import bisect

from lsprotocol import types

UNIT_SIZES = {"utf-8": None, "utf-16": 2, "utf-32": 4}


def _units(text: str, encoding: str) -> int:
    if encoding == "utf-32":
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8", "surrogatepass"))
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class LineIndex:
    """The line starts of one text, for conversions in both directions."""

    def __init__(self, text: str, encoding: str = "utf-16"):
        self.text = text
        self.encoding = encoding if encoding in UNIT_SIZES else "utf-16"
        self.starts = [0]
        index = text.find("\n")
        while index != -1:
            self.starts.append(index + 1)
            index = text.find("\n", index + 1)

    def position(self, offset: int) -> types.Position:
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        start = self.starts[line]
        return types.Position(line, _units(self.text[start:offset], self.encoding))

    def range(self, start: int, end: int) -> types.Range:
        return types.Range(self.position(start), self.position(max(start, end)))

    def offset(self, position: types.Position) -> int:
        """The offset of an LSP position; past the end of a line clamps to the line end."""
        if position.line >= len(self.starts):
            return len(self.text)
        start = self.starts[max(0, position.line)]
        end = self.starts[position.line + 1] - 1 if position.line + 1 < len(self.starts) \
            else len(self.text)
        line = self.text[start:end]
        if line.isascii() or self.encoding == "utf-32":
            return start + min(max(0, position.character), len(line))
        units = 0
        for index, char in enumerate(line):
            if units >= position.character:
                return start + index
            units += _units(char, self.encoding)
        return end
