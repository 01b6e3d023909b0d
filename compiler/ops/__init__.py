"""The IR's ops, one family per module, all registered in `registry.OPS`.

Importing a family module registers its ops; `load_all` imports every family once.
"""

import importlib

FAMILIES = (
    "elementwise",
    "linalg",
    "shape",
    "reduce",
    "compare",
    "random",
    "creation",
    "conv",
    "pool",
    "control",
)

_loaded = False


def load_all() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for family in FAMILIES:
            importlib.import_module(f"{__name__}.{family}")
