"""Bytes to `.nn` text: a file must be UTF-8 (a leading byte-order mark is dropped). The
first byte that is not is reported as E0006 at its line and column, the line shown with
the undecodable bytes replaced, before any parsing.
"""

from __future__ import annotations

from .diagnostics import Diagnostic
from .source import SourceFile, Span

BOM = "\ufeff"


def decode_source(name: str, data: bytes) -> tuple[str | None, Diagnostic | None]:
    """The text of the `.nn` file `name` holding `data`, or E0006 at its first bad byte."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        shown = data.decode("utf-8", errors="replace")
        offset = len(data[: error.start].decode("utf-8"))
        if shown.startswith(BOM):
            shown, offset = shown[1:], offset - 1
        span = Span(SourceFile(name, shown), offset, offset + 1)
        byte = data[error.start]
        return None, Diagnostic(
            "E0006", f"the file is not UTF-8 text: byte 0x{byte:02x} cannot start or continue a "
            "character here", span, "not UTF-8",
            help="save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`); `.nn` files are "
            "UTF-8 text")
