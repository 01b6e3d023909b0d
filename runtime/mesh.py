"""Devices and sharding for the training loop: a device mesh with a `data` and a
`model` axis over every device of every process, JAX's own multi-process runtime
(`jax.distributed`), and the predicate that says which process writes files.

`fit` (runtime/training.py) takes a `DeviceMesh`: params and optimizer state are
replicated, or split over the `model` axis where a param asks for it; each batch is
split over the `data` axis, and XLA inserts the collectives. Across processes each
one hands over only its own rows of every batch.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXES = ("data", "model")
CPU_COLLECTIVES = "gloo"
HEARTBEAT_TIMEOUT_S = 10
"""A process that has sent no heartbeat for this long counts as dead: the others'
collectives fail and they stop, rather than wait for it forever."""
INITIALIZATION_TIMEOUT_S = 120


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
    """Joins this process to a multi-process run through `jax.distributed.initialize`.
    What is not given comes from JAX's cluster detection: `JAX_COORDINATOR_ADDRESS`,
    SLURM, Open MPI, Kubernetes or Cloud TPU environment variables. CPU devices talk
    through gloo collectives. Must run before anything touches a device."""
    jax.config.update("jax_cpu_collectives_implementation", CPU_COLLECTIVES)
    jax.distributed.initialize(coordinator, num_processes, process_id,
                               initialization_timeout=INITIALIZATION_TIMEOUT_S,
                               heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_S)


def writes_files() -> bool:
    """True in the one process that writes logs, histories, checkpoints and artifacts
    (process 0); every process of a single-process run. What it writes holds global,
    replicated values, so a single-process run reads it back."""
    return jax.process_index() == 0


def partition_spec(axes: Sequence[str | None] | None) -> PartitionSpec:
    """A param's sharding (one mesh axis or None per dim; None: replicated)."""
    return PartitionSpec(*axes) if axes else PartitionSpec()


class DeviceMesh:
    """`devices` devices (all of every process by default) as a `data` x `model` grid
    of `model` columns. In a multi-process run it spans every process's devices."""

    def __init__(self, devices: int | None = None, model: int = 1):
        available = jax.devices()
        count = len(available) if devices is None else devices
        if not 1 <= count <= len(available):
            raise ValueError(f"{count} devices asked for, {len(available)} available")
        if jax.process_count() > 1 and count != len(available):
            raise ValueError(f"a run of {jax.process_count()} processes trains on all "
                             f"{len(available)} devices, not {count}")
        if count % model:
            raise ValueError(f"{count} devices do not form a mesh with a `model` axis of {model}")
        self.count, self.model = count, model
        self.data = count // model
        grid = np.array(available[:count]).reshape(self.data, model)
        self.mesh = Mesh(grid, AXES)
        self.split = self.sharding(PartitionSpec("data"))

    @property
    def multiprocess(self) -> bool:
        return jax.process_count() > 1

    def sharding(self, spec: PartitionSpec) -> NamedSharding:
        return NamedSharding(self.mesh, spec)

    def place(self, tree, specs=None):
        """`tree` on the mesh: replicated, or each leaf by its `PartitionSpec` in
        `specs` (a tree of the same structure). Every process passes the same values."""
        leaves, structure = jax.tree.flatten(tree)
        spec_leaves = [PartitionSpec()] * len(leaves) if specs is None else \
            jax.tree.leaves(specs, is_leaf=lambda s: isinstance(s, PartitionSpec))
        placed = [self._global(np.asarray(leaf), self.sharding(spec))
                  for leaf, spec in zip(leaves, spec_leaves, strict=True)]
        return jax.tree.unflatten(structure, placed)

    def shard_batch(self, batch):
        """Inside a step: `batch` (an array, or a tuple of them) split over `data`;
        a batch the `data` axis does not divide (an epoch's last) runs unsplit."""
        if isinstance(batch, tuple):
            return tuple(self.shard_batch(part) for part in batch)
        if batch.shape[0] % self.data:
            return batch
        return jax.lax.with_sharding_constraint(batch, self.split)

    def local_batches(self, part, index_chunk: np.ndarray):
        """The batches `part[index_chunk]` ([steps, batch, ...]) as one global array
        split over `data` along the batch axis, this process gathering only its rows."""
        if isinstance(part, tuple):
            return tuple(self.local_batches(p, index_chunk) for p in part)
        steps, batch = index_chunk.shape
        sharding = self.sharding(PartitionSpec(None, "data"))
        rows = self._local_slice(sharding, (steps, batch), axis=1)
        local = part[index_chunk[:, rows]]
        return jax.make_array_from_process_local_data(sharding, local,
                                                      (steps, batch, *part.shape[1:]))

    def local_rows(self, part):
        """All of `part` as one global batch split over `data`, this process holding
        only its rows."""
        if isinstance(part, tuple):
            return tuple(self.local_rows(p) for p in part)
        rows = self._local_slice(self.split, part.shape, axis=0)
        return jax.make_array_from_process_local_data(self.split, part[rows], part.shape)

    @staticmethod
    def _local_slice(sharding: NamedSharding, shape, axis: int) -> slice:
        """The rows along `axis` that this process's devices hold (contiguous, since
        the mesh lists each process's devices together)."""
        pieces = sharding.addressable_devices_indices_map(tuple(shape)).values()
        starts = [piece[axis].indices(shape[axis]) for piece in pieces]
        return slice(min(s[0] for s in starts), max(s[1] for s in starts))

    def _global(self, value: np.ndarray, sharding: NamedSharding):
        if not self.multiprocess:
            return jax.device_put(value, sharding)
        return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])

    def describe(self) -> dict[str, Any]:
        """The mesh as an artifact's manifest records it."""
        return {"axes": list(AXES), "shape": [self.data, self.model],
                "processes": jax.process_count()}


def on_this_process(tree):
    """`tree` with each global array that spans other processes gathered whole onto
    this one (`process_allgather`, a collective: every process must call it)."""

    def local(leaf):
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
            return multihost_utils.process_allgather(leaf, tiled=True)
        return leaf

    return jax.tree.map(local, tree)
