"""Where dslc writes: every output a command names (`-o`, `--history`, `--plot`) is
checked before any work starts, and refused with one line and exit 1 when writing it
would destroy an input, follow a link, or fail (a missing or read-only folder, a folder
where a file goes).
"""

from __future__ import annotations

import os
import sys

from ..dsl.diagnostics import visible

EXIT_DIAGNOSTICS = 1


def output_refusal(path: str, compilation, *, folder: bool, force: bool = False,
                   inputs: tuple[str, ...] = ()) -> str | None:
    """Why dslc will not write `path`, or None: it is an input of this run, a link, a
    folder where a file goes (or the reverse), a folder that is not a dslc artifact
    (unless `force`), or in a folder that does not exist or cannot be written. The
    inputs are the compilation's files (when given) and `inputs`."""
    from ..runtime.artifact import is_artifact

    if os.path.islink(path):
        return "it is a symbolic link"
    if compilation is not None:
        inputs = (compilation.path, *compilation.imported, *inputs)
    if os.path.exists(path) and any(
            os.path.exists(i) and os.path.samefile(path, i) for i in inputs):
        return "it is an input of this run"
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        return "its folder does not exist"
    if not writable_folder(os.path.dirname(os.path.abspath(path))):
        return "its folder is not writable"
    if os.path.exists(path) and not (os.path.isfile(path) or os.path.isdir(path)):
        return "it is not a regular file (a device, pipe or socket)"
    if folder and os.path.exists(path) and not os.path.isdir(path):
        return "it exists and is not a folder"
    if not folder and os.path.isdir(path):
        return "it is a folder"
    if folder and os.path.isdir(path) and os.listdir(path) and not is_artifact(path) \
            and not force:
        return "it is a folder that is not a dslc artifact (--force replaces it)"
    return None


def writable_folder(folder: str) -> bool:
    """Whether a file can be created in `folder`, found by creating one (permission bits
    say nothing of a read-only file system, nor of what root may do)."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".dslc-probe-"):
            return True
    except OSError:
        return False


def refuse_output(option: str, path: str, problem: str) -> int:
    """One line on stderr and exit 1: an output dslc will not write, checked before any
    work starts."""
    print(f"dslc: error: will not write {option} {visible(path)}: {problem}", file=sys.stderr)
    return EXIT_DIAGNOSTICS


def cannot_write(path: str, error: OSError) -> int:
    """One line on stderr and exit 1: writing `path` failed after the checks passed (the
    disk filled, the folder changed)."""
    print(f"dslc: error: cannot write {visible(path)}: {error.strerror or error}",
          file=sys.stderr)
    return EXIT_DIAGNOSTICS
