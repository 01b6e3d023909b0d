"""Safe file access for the runtime's outputs and inputs (artifacts, histories,
checkpoints).

Writes are atomic: a file is written to a temporary name in its folder, flushed to
disk, then renamed over the target; a folder (an artifact) is built as a temporary
sibling and swapped into place. A reader, or a process killed at any moment, sees the
old version or the new one, never half of one. What is written gets the user's umask.
Reads of files named by a manifest take regular files only, without following a link
and without blocking on a pipe or device.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import stat
import tempfile

RENAME_EXCHANGE = 2  # renameat2(2): swap two paths atomically (Linux 3.15+)
AT_FDCWD = -100


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        os.fchmod(handle, 0o666 & ~umask())
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def staging_folder(target: str) -> str:
    """A new empty folder beside `target`, to be filled and then `replace_folder`ed."""
    target = os.path.abspath(target)
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(target)}.tmp-")
    os.chmod(staging, 0o777 & ~umask())
    return staging


def replace_folder(staging: str, target: str) -> None:
    """Puts the folder `staging` at `target`, atomically where the system can swap two
    paths (then the old folder is removed); elsewhere the old folder is moved aside
    first, so that a kill between the two renames leaves it whole beside `target`."""
    target = os.path.abspath(target)
    if not os.path.lexists(target):
        os.rename(staging, target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)
        return
    aside = tempfile.mkdtemp(dir=os.path.dirname(target),
                             prefix=f".{os.path.basename(target)}.old-")
    os.rmdir(aside)
    os.rename(target, aside)
    os.rename(staging, target)
    shutil.rmtree(aside, ignore_errors=True)


def _exchange(first: str, second: str) -> bool:
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    result = renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second),
                       RENAME_EXCHANGE)
    return result == 0


def read_regular(path: str, limit: int) -> bytes:
    """The bytes of the regular file `path` (not a link, pipe or device), at most
    `limit` of them; `ValueError` says why not."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise ValueError("a symbolic link" if os.path.islink(path)
                         else error.strerror or "cannot be opened") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        if info.st_size > limit:
            raise ValueError(f"larger than {limit} bytes")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(info.st_size + 1)  # not `limit`: read() allocates what it is asked
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ValueError(f"larger than {limit} bytes")
    return data
