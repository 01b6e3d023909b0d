"""Optimizers by their Keras names; each update is built as IR inside `train_step`.

Consumes the parameters, their gradients and the optimizer state (IR values) and
produces the new parameters and state, so that every backend runs the same update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .builder import Builder
from .ir import TensorType, Value


@dataclass(frozen=True)
class Optimizer:
    """`state(hyper, param_type)` -> [(slot name, type, initial value)] per parameter;
    `update(b, hyper, param, grad, slots)` -> (new param, new slots)."""

    params: dict[str, Any]
    state: Callable[[dict, TensorType], list[tuple[str, TensorType, float]]]
    update: Callable[..., tuple[Value, list[Value]]]
    doc: str


def _sgd_state(hyper, ptype):
    return [("momentum", ptype, 0.0)] if hyper["momentum"] else []


def _sgd_update(b: Builder, hyper, param, grad, slots):
    """Keras' SGD: v = momentum * v - lr * g; p += v (nesterov: p += momentum * v - lr * g)."""
    lr = b.const(hyper["learning_rate"], param.type.dtype)
    step = b.mul(lr, grad)
    if not hyper["momentum"]:
        return b.sub(param, step), []
    (velocity,) = slots
    momentum = b.const(hyper["momentum"], param.type.dtype)
    velocity = b.sub(b.mul(momentum, velocity), step)
    if hyper["nesterov"]:
        return b.add(param, b.sub(b.mul(momentum, velocity), step)), [velocity]
    return b.add(param, velocity), [velocity]


def _rmsprop_state(hyper, ptype):
    slots = [("velocity", ptype, 0.0)]
    if hyper["momentum"]:
        slots.append(("momentum", ptype, 0.0))
    return slots


def _rmsprop_update(b: Builder, hyper, param, grad, slots):
    """Keras' RMSprop: v = rho v + (1 - rho) g^2; p -= lr g / (sqrt(v) + eps)."""
    dtype = param.type.dtype
    rho = hyper["rho"]
    velocity = b.add(b.mul(b.const(rho, dtype), slots[0]),
                     b.mul(b.const(1 - rho, dtype), b.square(grad)))
    scaled = b.div(b.mul(b.const(hyper["learning_rate"], dtype), grad),
                   b.add(b.sqrt(velocity), b.const(hyper["epsilon"], dtype)))
    if not hyper["momentum"]:
        return b.sub(param, scaled), [velocity]
    moment = b.add(b.mul(b.const(hyper["momentum"], dtype), slots[1]), scaled)
    return b.sub(param, moment), [velocity, moment]


def _adam_state(hyper, ptype):
    scalar = TensorType(ptype.dtype, ())
    return [("m", ptype, 0.0), ("v", ptype, 0.0), ("t", scalar, 0.0)]


def _adam_update(b: Builder, hyper, param, grad, slots):
    """Keras' Adam (AdamW with `weight_decay`), bias-corrected by the step count `t`."""
    dtype = param.type.dtype
    m, v, t = slots
    beta_1, beta_2 = hyper["beta_1"], hyper["beta_2"]
    one = b.const(1.0, dtype)
    t = b.add(t, one)
    m = b.add(b.mul(b.const(beta_1, dtype), m), b.mul(b.const(1 - beta_1, dtype), grad))
    v = b.add(b.mul(b.const(beta_2, dtype), v),
              b.mul(b.const(1 - beta_2, dtype), b.square(grad)))
    correction = b.div(b.sqrt(b.sub(one, b.pow(b.const(beta_2, dtype), t))),
                       b.sub(one, b.pow(b.const(beta_1, dtype), t)))
    lr = b.mul(b.const(hyper["learning_rate"], dtype), correction)
    step = b.div(b.mul(lr, m), b.add(b.sqrt(v), b.const(hyper["epsilon"], dtype)))
    if hyper.get("weight_decay"):
        decay = b.const(hyper["learning_rate"] * hyper["weight_decay"], dtype)
        param = b.sub(param, b.mul(decay, param))
    return b.sub(param, step), [m, v, t]


OPTIMIZERS: dict[str, Optimizer] = {
    "SGD": Optimizer({"learning_rate": 0.01, "momentum": 0.0, "nesterov": False},
                     _sgd_state, _sgd_update, "gradient descent, optionally with momentum"),
    "RMSprop": Optimizer({"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0,
                          "epsilon": 1e-7}, _rmsprop_state, _rmsprop_update,
                         "divides the gradient by a running RMS of its magnitude"),
    "Adam": Optimizer({"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999,
                       "epsilon": 1e-7}, _adam_state, _adam_update,
                      "adaptive moment estimation"),
    "AdamW": Optimizer({"learning_rate": 0.001, "weight_decay": 0.004, "beta_1": 0.9,
                        "beta_2": 0.999, "epsilon": 1e-7}, _adam_state, _adam_update,
                       "Adam with decoupled weight decay"),
}
# Keras accepts an optimizer by its lower-case name with default settings.
ALIASES = {name.lower(): name for name in OPTIMIZERS}

