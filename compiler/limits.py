"""The sizes dslc refuses to go beyond before doing any work, each raised by an
environment variable: the front end checks parameters, the training command a step's
values, the runtime's `npz` source each array (it reads the same variable itself,
standing alone). `dslc` refuses to start (exit 2) when one of them is not a byte count.
"""

from __future__ import annotations

import os

DEFAULTS = {
    "DSLC_MAX_PARAM_BYTES": 8 << 30,  # all parameters together
    "DSLC_MAX_ACTIVATION_BYTES": 16 << 30,  # the values of one training step
    "DSLC_MAX_DATA_BYTES": 8 << 30,  # one array of a data file, once loaded
}


def limit(name: str) -> int:
    """The limit `name` (a key of `DEFAULTS`): the environment's value, else the default."""
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULTS[name]


def environment_problems() -> list[str]:
    """The limit variables that are set but are not a positive number of bytes."""
    return [f"{name}={os.environ[name]!r} is not a positive number of bytes"
            for name in DEFAULTS
            if name in os.environ and not (os.environ[name].isdigit()
                                           and int(os.environ[name]) > 0)]
