"""The training callbacks a `train` block can name, `callbacks = [EarlyStopping(patience=3)]`:
their Keras 3 parameters, defaults, kinds and docs, which the front end checks a call
against without loading the runtime. `runtime/callbacks.py` implements each under the
same name and signature (a test holds the two in step); the runtime receives the name
and the bound arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .data_sources import REQUIRED

MODES = ("auto", "min", "max")


@dataclass(frozen=True)
class CallbackRecord:
    """`params`: name -> default, in positional order; `kinds`: name -> the kind the
    front end accepts (`int`, `float`, `bool`, `str`, `freq`); `choices`: name -> the
    strings it may be; `counts`: parameters that are counts (0 or more); `check`: the
    problem with a whole set of arguments, as (argument, message, label, hint), or None."""

    name: str
    params: dict[str, Any]
    kinds: dict[str, str]
    doc: str
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    counts: tuple[str, ...] = ()
    check: Callable[[dict[str, Any]], tuple[str, str, str, str] | None] | None = None


def _record(name: str, doc: str, *params: tuple[str, str, Any], **extra) -> CallbackRecord:
    return CallbackRecord(name, {p: default for p, _, default in params},
                          {p: kind for p, kind, _ in params}, doc, **extra)


CALLBACKS: dict[str, CallbackRecord] = {record.name: record for record in (
    _record("EarlyStopping", "stop when `monitor` stops improving (Keras 3's arguments)",
            ("monitor", "str", "val_loss"), ("min_delta", "float", 0.0),
            ("patience", "int", 0), ("mode", "str", "auto"), ("baseline", "float", None),
            ("restore_best_weights", "bool", False), ("start_from_epoch", "int", 0),
            choices={"mode": MODES}, counts=("patience", "start_from_epoch")),
    _record("ModelCheckpoint", "save a checkpoint folder (relative to the `.nn` file) every "
            "epoch or `save_freq` steps, or only when `monitor` improved",
            ("filepath", "str", REQUIRED), ("monitor", "str", "val_loss"),
            ("save_best_only", "bool", False), ("mode", "str", "auto"),
            ("save_freq", "freq", "epoch"), ("initial_value_threshold", "float", None),
            choices={"mode": MODES}),
    _record("ReduceLROnPlateau", "multiply the learning rate by `factor` when `monitor` "
            "stops improving (needs a constant learning rate, not a schedule)",
            ("monitor", "str", "val_loss"), ("factor", "float", 0.1),
            ("patience", "int", 10), ("verbose", "int", 0), ("mode", "str", "auto"),
            ("min_delta", "float", 1e-4), ("cooldown", "int", 0), ("min_lr", "float", 0.0),
            choices={"mode": MODES}, counts=("patience", "cooldown"),
            check=lambda args: None if args["factor"] < 1.0 else (
                "factor", f"`factor` should be below 1.0, found `{args['factor']}`",
                "not a reduction", "e.g. `factor=0.5` halves the learning rate")),
    _record("TerminateOnNaN", "stop after the first step whose loss is NaN or infinite "
            "(dslc does so by default)"),
)}


def monitored(record: CallbackRecord, args: dict[str, Any]) -> str | None:
    """The log key a configured callback watches, or None if it watches none (a
    ModelCheckpoint that saves every time)."""
    if "monitor" not in record.params:
        return None
    if record.name == "ModelCheckpoint" and not args.get("save_best_only"):
        return None
    return args["monitor"]
