"""Checkpoints: a training run's whole state in a folder, written and read by the runtime.

A checkpoint folder holds `arrays.safetensors` (every array of the carry, named
`group/name`: `params/...`, `state/...`, `optimizer/...`, and the loop's own `loop/...`)
and `checkpoint.json` (format and version, the `.nn` source's path and sha256, step,
epoch, the data order's NumPy generator state, the history, the arrays file's sha256).
Arrays are safetensors because it is a plain, documented layout (a length, a JSON
header, raw little-endian bytes) that PyTorch, JAX, TensorFlow and Rust tools read
without running code from the file, unlike pickle; it is simple enough to write here
with NumPy alone, so an artifact user needs neither the compiler nor `safetensors`.
A folder is built beside its target and swapped in (`files.replace_folder`), so a crash
at any instant leaves the previous checkpoint or the next, never a torn one.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .files import read_regular, replace_folder, staging_folder, write_atomically

FORMAT = "dslc-checkpoint"
VERSION = 1
ARRAYS, MANIFEST = "arrays.safetensors", "checkpoint.json"
MAX_BYTES = 1 << 40

# NumPy dtype <-> safetensors dtype names.
DTYPES = {"float64": "F64", "float32": "F32", "float16": "F16", "int64": "I64",
          "int32": "I32", "int16": "I16", "int8": "I8", "uint64": "U64", "uint32": "U32",
          "uint16": "U16", "uint8": "U8", "bool": "BOOL"}
NUMPY_DTYPES = {tag: np.dtype(name) for name, tag in DTYPES.items()}


class CheckpointError(Exception):
    """A folder that is not a readable checkpoint; the message says why."""


@dataclass
class Checkpoint:
    """`arrays`: "group/name" -> array, for every entry of the carry and the loop's
    own arrays; `info`: step, epoch, data order, history and whatever the writer adds
    (the source's path and hash)."""

    arrays: dict[str, np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)

    def group(self, name: str) -> dict[str, np.ndarray]:
        """The arrays of one group, by their names inside it."""
        prefix = name + "/"
        return {k[len(prefix):]: v for k, v in self.arrays.items() if k.startswith(prefix)}


# -- safetensors ----------------------------------------------------------------


def safetensors_bytes(arrays: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    """The safetensors encoding of `arrays`: an 8-byte little-endian header length, a
    JSON header (dtype, shape, byte offsets per name), then the data, in name order."""
    header: dict[str, Any] = {"__metadata__": metadata} if metadata else {}
    chunks, offset = [], 0
    for name in sorted(arrays):
        array = np.asarray(arrays[name])
        if array.dtype.name not in DTYPES:
            raise ValueError(f"cannot store `{name}` of dtype {array.dtype} in safetensors")
        data = np.ascontiguousarray(array, array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[array.dtype.name], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def read_safetensors(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of a safetensors file's bytes; `CheckpointError` if malformed."""
    try:
        (size,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + size])
        body = memoryview(data)[8 + size :]
        arrays = {}
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            begin, end = entry["data_offsets"]
            dtype = NUMPY_DTYPES[entry["dtype"]].newbyteorder("<")
            if not 0 <= begin <= end <= len(body):
                raise ValueError(f"`{name}` lies outside the file")
            array = np.frombuffer(body[begin:end], dtype).reshape(entry["shape"])
            arrays[name] = array.astype(dtype.newbyteorder("="))
        return arrays
    except (struct.error, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"the arrays file is not valid safetensors: {error}") from None


# -- folders ----------------------------------------------------------------------


def save(directory: str | os.PathLike, checkpoint: Checkpoint) -> None:
    """Writes `checkpoint` to the folder `directory`, replacing it atomically; a folder
    there that holds something other than a checkpoint is refused, never replaced."""
    directory = os.fspath(directory)
    if os.path.lexists(directory) and not (
            os.path.isdir(directory) and not os.path.islink(directory)
            and (is_checkpoint(directory) or not os.listdir(directory))):
        raise CheckpointError(f"will not replace {directory}: it is not a dslc checkpoint "
                              "folder")
    arrays = safetensors_bytes(checkpoint.arrays, {"format": FORMAT})
    manifest = {"format": FORMAT, "version": VERSION, **checkpoint.info,
                "arrays_sha256": hashlib.sha256(arrays).hexdigest()}
    staging = staging_folder(directory)
    try:
        write_atomically(os.path.join(staging, ARRAYS), arrays)
        write_atomically(os.path.join(staging, MANIFEST),
                         (json.dumps(manifest, indent=1) + "\n").encode("utf-8"))
        _fsync_folder(staging)
        replace_folder(staging, directory)
        _fsync_folder(os.path.dirname(os.path.abspath(directory)))
    except BaseException:
        if os.path.isdir(staging):
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
        raise


def _fsync_folder(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_checkpoint(directory: str | os.PathLike) -> bool:
    return os.path.isfile(os.path.join(directory, MANIFEST))


def load(directory: str | os.PathLike) -> Checkpoint:
    """The checkpoint in `directory`; `CheckpointError` says why it cannot be read."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise CheckpointError(f"{directory} is not a folder")
    try:
        manifest = json.loads(read_regular(os.path.join(directory, MANIFEST), 1 << 26))
        data = read_regular(os.path.join(directory, ARRAYS), MAX_BYTES)
    except (ValueError, OSError) as error:
        raise CheckpointError(f"{directory} is not a dslc checkpoint ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"{directory} is not a dslc checkpoint")
    if manifest.get("version") != VERSION:
        raise CheckpointError(f"{directory} is a checkpoint of format version "
                              f"{manifest.get('version')}; this dslc reads version {VERSION}")
    if hashlib.sha256(data).hexdigest() != manifest.get("arrays_sha256"):
        raise CheckpointError(f"{directory}/{ARRAYS} does not match its manifest's sha256")
    info = {k: v for k, v in manifest.items() if k not in ("format", "version", "arrays_sha256")}
    return Checkpoint(read_safetensors(data), info)


def file_sha256(path: str | os.PathLike) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()
