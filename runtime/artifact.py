"""Compiled artifacts on disk: a manifest plus serialized `jax.export` functions.

The compiler's backend writes an artifact directory with `write_artifact`; `load`
reads it back and runs its functions on the current device with NumPy in and out.
Needs only JAX, NumPy and the standard library (no compiler, no parser).
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import operator
import json
import math
import os
import re
import shutil
from dataclasses import dataclass
from typing import Any, Mapping

import jax
import numpy as np
from jax import export as jax_export

from .files import read_regular, replace_folder, staging_folder, write_atomically

FORMAT = "dslc-artifact"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MAX_FUNCTION_BYTES = 1 << 32  # one exported function; a larger file is not read
PLATFORMS = ("cpu", "cuda", "rocm", "tpu")
_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class ArtifactError(Exception):
    """An artifact is missing, corrupt, incompatible, or called with wrong inputs."""


@dataclass(frozen=True)
class TensorSpec:
    """One input, output or parameter: a name, a dtype name and a shape whose dims
    are ints or symbol names (or JAX dim expressions such as "2*N"), and for a
    function's inputs and outputs its role in the program's signature ("param",
    "optimizer", "input", "target", "loss", "metric", ...; None where it has none)."""

    name: str
    dtype: str
    shape: tuple[int | str, ...]
    role: str | None = None

    @classmethod
    def from_manifest(cls, entry: Mapping[str, Any], where: str) -> TensorSpec:
        try:
            role = entry.get("role")
            return cls(str(entry["name"]), str(np.dtype(entry["dtype"])), tuple(entry["shape"]),
                       None if role is None else str(role))
        except (KeyError, TypeError) as error:
            raise ArtifactError(f"{where}: malformed tensor entry {entry!r}") from error

    def to_manifest(self) -> dict[str, Any]:
        entry = {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}
        return {**entry, "role": self.role} if self.role else entry

    def __str__(self) -> str:
        return f"{self.dtype}[{', '.join(map(str, self.shape))}]"


def tensor_entries(names, avals) -> list[dict[str, Any]]:
    """Manifest entries for `names` and the matching avals of an `Exported`
    (`exported.in_avals` / `out_avals`); symbolic dims are written as strings."""
    return [
        {"name": name, "dtype": str(aval.dtype), "shape": [d if isinstance(d, int) else str(d) for d in aval.shape]}
        for name, aval in zip(names, avals, strict=True)
    ]


# -- writing ----------------------------------------------------------------------


def write_artifact(directory: str | os.PathLike, manifest: Mapping[str, Any], blobs: Mapping[str, bytes | str]) -> None:
    """Write `blobs` (file name -> bytes, or str written as UTF-8) and the manifest as
    the artifact folder `directory`: built beside it and swapped into place
    (`files.replace_folder`), so that a kill at any moment leaves the old artifact or
    the new one whole. The manifest gains a "files" map of SHA-256 digests, which
    `load` requires and checks."""
    directory = os.fspath(directory)
    for name in blobs:
        if not _plain_name(name):
            raise ArtifactError(f"artifact file names must be plain file names other than {MANIFEST}, got {name!r}")
    for name, entry in manifest.get("functions", {}).items():
        if entry.get("file") not in blobs:
            raise ArtifactError(f"function `{name}` names file {entry.get('file')!r}, which is not among the blobs")
    staging = staging_folder(directory)
    try:
        digests = {}
        for name, content in blobs.items():
            data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
            digests[name] = hashlib.sha256(data).hexdigest()
            write_atomically(os.path.join(staging, name), data)
        text = json.dumps({**manifest, "files": digests}, indent=2, sort_keys=True) + "\n"
        write_atomically(os.path.join(staging, MANIFEST), text.encode("utf-8"))
        replace_folder(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _plain_name(name: Any) -> bool:
    return (isinstance(name, str) and os.path.basename(name) == name
            and name not in ("", ".", "..", MANIFEST) and "\0" not in name)


def is_artifact(path: str | os.PathLike) -> bool:
    """Whether `path` is a folder holding a dslc artifact manifest (of any version)."""
    try:
        with open(os.path.join(os.fspath(path), MANIFEST), encoding="utf-8") as file:
            return json.load(file).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


# -- loading ----------------------------------------------------------------------


def load(path: str | os.PathLike) -> Artifact:
    """Read and validate the manifest of the artifact directory `path`. Function
    files are read and deserialized on first use of `Artifact.function`."""
    path = os.fspath(path)
    manifest_path = os.path.join(path, MANIFEST)
    if not os.path.isdir(path):
        raise ArtifactError(f"{path}: no such artifact directory")
    try:
        with open(manifest_path, encoding="utf-8") as file:
            manifest = json.load(file)
    except FileNotFoundError:
        raise ArtifactError(f"{manifest_path}: missing; {path} is not a complete dslc artifact") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactError(f"{manifest_path}: unreadable manifest: {error}") from error
    _check_manifest(manifest, manifest_path)
    return Artifact(path, manifest)


def _check_manifest(manifest, where: str) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"{where}: not a dslc artifact manifest (\"format\" is not {FORMAT!r})")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ArtifactError(
            f"{where}: artifact format version {version!r}; this runtime reads version {FORMAT_VERSION}"
            + ("; upgrade dslc" if isinstance(version, int) and version > FORMAT_VERSION else "")
        )
    functions = manifest.get("functions")
    if not isinstance(functions, dict) or not all(isinstance(e, dict) and "file" in e for e in functions.values()):
        raise ArtifactError(f"{where}: \"functions\" must map names to entries with a \"file\"")
    digests = manifest.get("files")
    if not isinstance(digests, dict):
        raise ArtifactError(f"{where}: no \"files\" map of SHA-256 digests; an artifact without one is not loaded")
    for name, entry in functions.items():
        if not _plain_name(entry["file"]):
            raise ArtifactError(f"{where}: function `{name}` names {entry['file']!r}, not a file in the artifact folder")
        digest = digests.get(entry["file"])
        if not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
            raise ArtifactError(f"{where}: no SHA-256 digest for {entry['file']!r} in \"files\"")
    platforms = manifest.get("platforms")
    if not isinstance(platforms, list) or not platforms:
        raise ArtifactError(f"{where}: \"platforms\" must be a non-empty list")


def current_platform() -> str:
    """This process's JAX platform in `jax.export` terms: cpu, cuda, rocm or tpu."""
    backend = jax.default_backend()
    if backend == "gpu":
        version = jax.devices()[0].client.platform_version.lower()
        return "rocm" if "rocm" in version else "cuda"
    return backend


def platform_ok(artifact: Artifact) -> bool:
    """Whether the artifact was exported for the platform JAX runs on here."""
    return current_platform() in artifact.platforms


class Artifact:
    """A loaded artifact directory: its manifest and its callable functions."""

    def __init__(self, path: str, manifest: dict):
        self.path = path
        self.manifest = manifest
        self._functions: dict[str, ArtifactFunction] = {}

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(self.manifest["platforms"])

    @property
    def function_names(self) -> tuple[str, ...]:
        return tuple(self.manifest["functions"])

    @property
    def params(self) -> tuple[TensorSpec, ...]:
        return tuple(TensorSpec.from_manifest(e, "params") for e in self.manifest.get("params", []))

    @property
    def optimizer_state(self) -> tuple[TensorSpec, ...]:
        return self._group("optimizer_state")

    @property
    def metric_state(self) -> tuple[TensorSpec, ...]:
        """The metrics' variables (`<metric>/<variable>`, each with its initial
        `value` in the manifest), which `train_step` and `eval_step` take and return."""
        return self._group("metric_state")

    def _group(self, group: str) -> tuple[TensorSpec, ...]:
        return tuple(TensorSpec.from_manifest(e, group) for e in self.manifest.get(group, []))

    def initial_values(self, group: str) -> list[np.ndarray]:
        """The initial values of a group the manifest lists with them ("metric_state",
        "optimizer_state"), in the order the functions take them."""
        try:
            return [np.full(spec.shape, entry["value"], spec.dtype) for spec, entry in
                    zip(self._group(group), self.manifest.get(group, []))]
        except (KeyError, TypeError, ValueError) as error:
            raise ArtifactError(f"{self.path}: malformed {group} entry") from error

    @property
    def mesh_shape(self) -> tuple[int, ...]:
        """The device mesh the functions were compiled for, e.g. (4, 2) along
        ("data", "model"); (1, 1) for one device."""
        return tuple(self.manifest.get("mesh", {}).get("shape", (1, 1)))

    def device_mesh(self) -> jax.sharding.Mesh | None:
        """This machine's devices as the artifact's mesh (None for one device). An
        artifact compiled for N devices runs on exactly N: its collectives and the
        shapes of its shards are fixed in the export, so other counts are refused
        rather than re-sharded (recompile the `.nn` file with `--mesh` for those)."""
        shape = self.mesh_shape
        count = math.prod(shape)
        if count == 1:
            return None
        available = jax.devices()
        if len(available) != count:
            mesh = "x".join(map(str, shape))
            raise ArtifactError(
                f"{self.path}: compiled for a {mesh} device mesh ({count} devices), but this "
                f"machine has {len(available)}; recompile with `--mesh` for its devices")
        axes = tuple(self.manifest["mesh"].get("axes", ("data", "model")))
        return jax.sharding.Mesh(np.array(available).reshape(shape), axes)

    def init_optimizer(self) -> dict[str, np.ndarray]:
        """The optimizer's state before the first step, by name, for `train_step`'s
        `optimizer` role: `optimizer/iterations` at 0, `optimizer/learning_rate` (which
        a caller may rewrite between steps) and each slot at its initial value."""
        return dict(zip((spec.name for spec in self.optimizer_state),
                        self.initial_values("optimizer_state")))

    def function(self, name: str) -> ArtifactFunction:
        if name not in self.manifest["functions"]:
            available = ", ".join(self.function_names) or "(none)"
            raise ArtifactError(f"{self.path}: no function `{name}`; available: {available}")
        if name not in self._functions:
            self._functions[name] = self._load_function(name)
        return self._functions[name]

    def _load_function(self, name: str) -> ArtifactFunction:
        entry = self.manifest["functions"][name]
        file_path = os.path.join(self.path, entry["file"])
        try:
            data = read_regular(file_path, MAX_FUNCTION_BYTES)
        except ValueError as error:
            raise ArtifactError(f"{file_path}: cannot read function `{name}`: {error}") from None
        expected = self.manifest["files"][entry["file"]]
        if hashlib.sha256(data).hexdigest() != expected:
            raise ArtifactError(f"{file_path}: contents do not match the manifest's checksum (corrupt or replaced)")
        try:
            exported = jax_export.deserialize(bytearray(data))
        except ImportError as error:  # jax.export's (de)serializer needs the optional `flatbuffers`
            raise ArtifactError(f"reading {file_path} needs the `flatbuffers` package: {error}") from error
        except Exception as error:  # flatbuffer decoding raises assorted types on bad bytes
            raise ArtifactError(f"{file_path}: not a valid serialized jax.export function: {error}") from error
        where = f"{self.path}: function `{name}`"
        inputs = tuple(TensorSpec.from_manifest(e, where) for e in entry.get("inputs", []))
        outputs = tuple(TensorSpec.from_manifest(e, where) for e in entry.get("outputs", []))
        if len(inputs) != len(exported.in_avals):
            raise ArtifactError(
                f"{where}: manifest lists {len(inputs)} inputs but {file_path} takes {len(exported.in_avals)}"
            )
        return ArtifactFunction(name, exported, inputs, outputs, where, self.device_mesh())


class ArtifactFunction:
    """One exported function: call it with NumPy arrays or Python scalars; returns
    a NumPy array, or a tuple of them when the function has several outputs."""

    def __init__(self, name: str, exported, inputs, outputs, where: str,
                 mesh: jax.sharding.Mesh | None = None):
        self.name = name
        self.exported = exported
        self.inputs: tuple[TensorSpec, ...] = inputs
        self.outputs: tuple[TensorSpec, ...] = outputs
        self._where = where
        shardings = None if mesh is None else exported.in_shardings_jax(mesh)
        self._call = jax.jit(exported.call, in_shardings=shardings)
        # JAX computes 64-bit types in 32 bits unless x64 is on, where they are used.
        self._wide = any(np.dtype(spec.dtype).itemsize == 8
                         for spec in (*inputs, *outputs))

    def __repr__(self) -> str:
        signature = ", ".join(f"{spec.name}: {spec}" for spec in self.inputs)
        return f"<ArtifactFunction {self.name}({signature})>"

    def call_by_role(self, **groups) -> dict[str | None, list]:
        """Calls with each role's values in order (`param=[...], input=[x]`), placed
        where the manifest's inputs put them; returns the outputs as role -> values."""
        taken = {role: list(values) for role, values in groups.items()}
        needed = {spec.role for spec in self.inputs}
        if set(taken) != needed or any(
                len(taken[role]) != sum(s.role == role for s in self.inputs) for role in needed):
            wanted = ", ".join(f"{s.role} `{s.name}`" for s in self.inputs)
            raise ArtifactError(f"{self._where} takes {wanted}")
        positions = {role: iter(values) for role, values in taken.items()}
        results = self(*(next(positions[spec.role]) for spec in self.inputs))
        results = results if isinstance(results, tuple) else (results,)
        grouped: dict[str | None, list] = {}
        for spec, value in zip(self.outputs, results):
            grouped.setdefault(spec.role, []).append(value)
        return grouped

    def __call__(self, *args):
        if len(args) != len(self.inputs):
            names = ", ".join(spec.name for spec in self.inputs)
            raise ArtifactError(f"{self._where} takes {len(self.inputs)} inputs ({names}), got {len(args)}")
        platform = current_platform()
        if platform not in self.exported.platforms:
            raise ArtifactError(
                f"{self._where} was exported for {', '.join(self.exported.platforms)}, "
                f"but JAX runs on {platform} here; recompile for this platform"
            )
        arrays = _check_inputs(self._where, self.inputs, args)
        with jax.enable_x64(True) if self._wide else contextlib.nullcontext():
            results = jax.tree.map(np.asarray, jax.device_get(self._call(*arrays)))
        if isinstance(results, list):
            results = tuple(results)
        return results[0] if isinstance(results, tuple) and len(results) == 1 else results


def _check_inputs(where: str, specs, args) -> list[np.ndarray]:
    """Convert `args` to arrays of the specs' dtypes, checking dtype kind, rank,
    fixed dims and that each symbolic dim has one value across inputs."""
    arrays, symbols = [], {}
    for spec, value in zip(specs, args):
        want = np.dtype(spec.dtype)
        array = np.asarray(value)
        if not np.can_cast(array.dtype, want, casting="same_kind"):
            raise ArtifactError(f"{where}: input `{spec.name}` must be {spec.dtype}, got {array.dtype}")
        array = array.astype(want, copy=False)
        if array.ndim != len(spec.shape):
            raise ArtifactError(
                f"{where}: input `{spec.name}` must have rank {len(spec.shape)} ({spec}), got shape {list(array.shape)}"
            )
        for axis, (dim, size) in enumerate(zip(spec.shape, array.shape)):
            if isinstance(dim, int) and dim != size:
                raise ArtifactError(
                    f"{where}: input `{spec.name}` must have shape {spec}, got {list(array.shape)} (axis {axis})"
                )
            if isinstance(dim, str) and _SYMBOL.match(dim):
                first = symbols.setdefault(dim, (size, spec.name))
                if first[0] != size:
                    raise ArtifactError(
                        f"{where}: dimension `{dim}` is {first[0]} in input `{first[1]}` "
                        f"but {size} in input `{spec.name}`"
                    )
        arrays.append(array)
    sizes = {name: size for name, (size, _) in symbols.items()}
    for spec, array in zip(specs, arrays):
        for dim, size in zip(spec.shape, array.shape):
            if isinstance(dim, str) and not _SYMBOL.match(dim):
                want = _dim_value(dim, sizes)
                if want is not None and want != size:
                    raise ArtifactError(
                        f"{where}: input `{spec.name}` must have shape {spec}, got "
                        f"{list(array.shape)}: `{dim}` is {want} here"
                    )
    return arrays


_DIM_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
                  ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
_DIM_FUNCTIONS = {"floordiv": operator.floordiv, "mod": operator.mod}


def _dim_value(text: str, sizes: dict[str, int]) -> int | None:
    """The size of an expression dim such as "3 * H * W" or JAX's "floordiv(H - 3, 2) + 1"
    for the symbols' `sizes`; None when it uses a symbol no input binds whole (JAX's own
    shape checks then answer) or is not such an expression."""
    def value(node):
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.Name):
            return sizes[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _DIM_OPERATORS:
            return _DIM_OPERATORS[type(node.op)](value(node.left), value(node.right))
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in _DIM_FUNCTIONS and len(node.args) == 2 and not node.keywords):
            return _DIM_FUNCTIONS[node.func.id](value(node.args[0]), value(node.args[1]))
        raise ValueError(text)
    try:
        return value(ast.parse(text, mode="eval").body)
    except (SyntaxError, ValueError, KeyError, ZeroDivisionError, RecursionError):
        return None
