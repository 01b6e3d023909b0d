"""Where `import` may read, and how: the one gate between `.nn` text and the file system,
used by the front end (`frontend/program.py`) and the language server alike.

An import names a `.nn` file by a path relative to the importing file. The file, after
following symbolic links, must lie inside the *root*: the folder of the program that
was given to dslc (the document, in an editor), so that a program cannot reach
`/proc/self/environ`, `~/.ssh` or `../../x.nn`, nor a link that leads there. It is
opened without blocking and read only if it is a regular file of at most
`MAX_SOURCE_BYTES`: a FIFO, a device or `/dev/zero` is refused before a byte is read.
A refusal is a `SourceRefused` with the reason; it never carries the file's contents.
"""

from __future__ import annotations

import os
import stat

from ..dsl.encoding import decode_source

MAX_SOURCE_BYTES = 1 << 20
SUFFIX = ".nn"


class SourceRefused(Exception):
    """Why an import is not read; `help` says what would be."""

    def __init__(self, reason: str, help: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.help = help


def root_of(program_path: str) -> str:
    """The root of the program at `program_path`: its folder (the working folder for a
    program that has no file), with links resolved."""
    folder = os.path.dirname(os.path.abspath(program_path))
    return os.path.realpath(folder if os.path.isdir(folder) else os.getcwd())


def import_target(root: str, importer: str, spelled: str) -> str:
    """The file that `import "spelled"` in `importer` names, or `SourceRefused`."""
    if "\0" in spelled:
        raise SourceRefused("the path contains a NUL character")
    if os.path.isabs(spelled) or spelled.startswith("~"):
        raise SourceRefused("the path is absolute",
                            help="an import names a `.nn` file relative to the importing file")
    if not spelled.endswith(SUFFIX):
        raise SourceRefused("only `.nn` files can be imported")
    folder = os.path.dirname(os.path.abspath(importer))
    target = os.path.normpath(os.path.join(folder, spelled))
    if not inside(root, os.path.realpath(target)):
        raise SourceRefused(
            "it lies outside the program's folder",
            help="imports stay inside the folder of the file given to dslc "
                 "(and its subfolders); move the file there")
    return target


def inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def read_source(path: str, limit: int = MAX_SOURCE_BYTES) -> str:
    """The UTF-8 text of the regular file at `path`, at most `limit` bytes, or
    `SourceRefused`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise SourceRefused(error.strerror or "it cannot be opened") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise SourceRefused("it is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise SourceRefused("it is not a regular file")
        if info.st_size > limit:
            raise SourceRefused(f"it is larger than {limit // 1024} KiB")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise SourceRefused(error.strerror or "it cannot be read") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise SourceRefused(f"it is larger than {limit // 1024} KiB")
    text, problem = decode_source(path, data)
    if problem is not None:
        raise SourceRefused(f"it is not UTF-8 text (line {problem.span.line}, column "
                            f"{problem.span.col})")
    return text
