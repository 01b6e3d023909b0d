"""The `dslc` console script, at the top of the layers: the driver's commands plus the
editor's (`lsp`), and the editor's highlighter for source lines in diagnostics.
"""

from __future__ import annotations

import sys

from . import driver
from .editor import lsp
from .editor.highlight import terminal_highlighter


def main(argv: list[str] | None = None) -> int:
    return driver.main(argv, commands=(lsp.COMMAND,), highlight=terminal_highlighter())


if __name__ == "__main__":
    sys.exit(main())
