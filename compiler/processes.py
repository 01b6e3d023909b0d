"""`dslc train` over several processes (hosts): joins JAX's multi-process runtime from
the command line's `--coordinator`, `--num-processes` and `--process-id` (or JAX's
cluster detection), and turns a failed peer into one clear error instead of a hang.

Sits under the commands; the mesh and the runtime itself are runtime/mesh.py's.
"""

from __future__ import annotations

import os
import sys

EXIT_PEER_FAILED = 1


def wanted(args) -> bool:
    """Whether this `dslc train` is one process of several."""
    given = (args.coordinator, args.num_processes, args.process_id)
    return any(v is not None for v in given) or bool(os.environ.get("JAX_COORDINATOR_ADDRESS"))


def join(args) -> str | None:
    """Joins the run; returns what went wrong, or None."""
    if args.process_id is not None and args.num_processes is not None \
            and not 0 <= args.process_id < args.num_processes:
        return (f"--process-id {args.process_id} is not between 0 and "
                f"{args.num_processes - 1} (--num-processes {args.num_processes})")
    from ..runtime.mesh import initialize

    try:
        initialize(args.coordinator, args.num_processes, args.process_id)
    except (ValueError, RuntimeError) as error:
        return f"cannot join the run: {first_line(error)}"
    return None


def is_peer_failure(error: BaseException) -> bool:
    """Whether `error` is a collective or the coordination service giving up on a
    process (XLA's runtime errors; gloo's surface as ValueError)."""
    import jax

    return isinstance(error, jax.errors.JaxRuntimeError) or "gloo" in str(error).lower()


def peer_failed(error: BaseException) -> int:
    """Reports that a collective with another process failed and leaves at once:
    JAX's exit-time shutdown barrier would wait for the dead process, then abort."""
    import jax

    print(f"error: process {jax.process_index()} of {jax.process_count()} stopped: "
          f"another process of the run failed or left ({first_line(error)})\n"
          "  = help: the first error is in the other processes' output", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_PEER_FAILED)


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
