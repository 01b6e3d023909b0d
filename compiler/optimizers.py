"""Optimizers by their Keras 3 names, arguments and defaults; each update is IR built
inside `train_step`, so that every backend runs the same update.

`apply` is Keras' `BaseOptimizer.apply`: it clips the gradients (`clipnorm` per tensor,
`global_clipnorm` over all of them, or `clipvalue`), decays the weights (`weight_decay`),
runs the optimizer's own update on each parameter and counts the step. Its state has
the role "optimizer" in `train_step` and is listed in `meta["optimizer_state"]` in this
order (`state_entries`):

- `optimizer/iterations` (i32): the number of updates applied, which bias corrections
  and schedules read (Keras' `optimizer.iterations`);
- `optimizer/learning_rate` (f32): when the learning rate is a number, not a schedule;
  the step reads it, so a callback changes the rate by rewriting it between steps;
- `optimizer/<name>`: an optimizer's own scalars (Nadam's `u_product`);
- `<param>/<slot>`: each parameter's slots by Keras' names (`dense/kernel/momentum`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .builder import Builder
from .ir import TensorType, Value

ITERATIONS = "optimizer/iterations"
LEARNING_RATE = "optimizer/learning_rate"
SHARED_PREFIX = "optimizer/"

# Every optimizer's arguments after its own, as Keras' `BaseOptimizer` takes them.
COMMON = {"weight_decay": None, "clipnorm": None, "clipvalue": None, "global_clipnorm": None}
CLIPPING = ("clipnorm", "clipvalue", "global_clipnorm")


@dataclass(frozen=True)
class Step:
    """What one parameter's update reads besides its own slots: this step's learning
    rate, the count of updates before it, and the optimizer's own scalars (advanced)."""

    learning_rate: Value
    iterations: Value
    shared: dict[str, Value] = field(default_factory=dict)

    def count(self, b: Builder, dtype: str, ahead: int = 1) -> Value:
        """Keras' `local_step`: `iterations + ahead` as `dtype`."""
        return b.cast(b.add(self.iterations, b.const(ahead, "i32")), dtype)


@dataclass(frozen=True)
class Optimizer:
    """`params`: Keras' arguments and defaults, in its order; `slots(hyper)` -> (name,
    initial value) of each parameter's slots, shaped like it; `update(b, hyper, step,
    param, grad, slots)` -> (new param, new slots); `shared`: (name, initial value) of
    its own f32 scalars, which `advance(b, hyper, step)` renews once per step, before the
    parameters' updates."""

    params: dict[str, Any]
    slots: Callable[[dict], list[tuple[str, float]]]
    update: Callable[..., tuple[Value, list[Value]]]
    doc: str
    shared: tuple[tuple[str, float], ...] = ()
    advance: Callable[..., dict[str, Value]] | None = None

    @property
    def kinds(self) -> dict[str, str]:
        """What the front end accepts for the arguments whose default does not say."""
        return {"learning_rate": "rate", **{name: "optional" for name in COMMON}}

    @staticmethod
    def check(args: dict) -> tuple[str, str, str, str] | None:
        """(argument, message, label, help) of a combination Keras refuses, or None."""
        clipping = [name for name in CLIPPING if args.get(name) is not None]
        if len(clipping) > 1:
            return (clipping[1], f"`{clipping[0]}` and `{clipping[1]}` are given together",
                    f"not with `{clipping[0]}`",
                    "give one of `clipnorm`, `clipvalue` and `global_clipnorm`")
        return None


def _keras_args(learning_rate: float, **own) -> dict[str, Any]:
    return {"learning_rate": learning_rate, **own,
            **{k: v for k, v in COMMON.items() if k not in own}}


def _const(b: Builder, value, like: Value) -> Value:
    return b.const(value, like.type.dtype)


def _rate(b: Builder, step: Step, param: Value) -> Value:
    return b.cast(step.learning_rate, param.type.dtype)


def _moving(b: Builder, average: Value, value: Value, decay: Value) -> Value:
    """Keras' `average += (value - average) * decay`."""
    return b.add(average, b.mul(b.sub(value, average), decay))


def _sgd(b: Builder, hyper, step, param, grad, slots):
    """`v = momentum * v - lr * g; p += v` (nesterov: `p += momentum * v - lr * g`)."""
    lr = _rate(b, step, param)
    if not hyper["momentum"]:
        return b.sub(param, b.mul(grad, lr)), []
    momentum = _const(b, hyper["momentum"], param)
    velocity = b.sub(b.mul(slots[0], momentum), b.mul(grad, lr))
    if hyper["nesterov"]:
        return b.add(param, b.sub(b.mul(velocity, momentum), b.mul(grad, lr))), [velocity]
    return b.add(param, velocity), [velocity]


def _rmsprop_slots(hyper):
    return ([("velocity", 0.0)] + [("momentum", 0.0)] * (hyper["momentum"] > 0)
            + [("average_gradient", 0.0)] * bool(hyper["centered"]))


def _rmsprop(b: Builder, hyper, step, param, grad, slots):
    """`v = rho v + (1 - rho) g^2; p -= lr g / sqrt(v + eps)`; `centered` subtracts the
    squared running mean of `g` under the root; `momentum` accumulates the steps."""
    rho = hyper["rho"]
    slots = dict(zip((name for name, _ in _rmsprop_slots(hyper)), slots))

    def running(average, value):
        return b.add(b.mul(_const(b, rho, param), average),
                     b.mul(_const(b, 1 - rho, param), value))

    slots["velocity"] = running(slots["velocity"], b.square(grad))
    denominator = slots["velocity"]
    if hyper["centered"]:
        slots["average_gradient"] = running(slots["average_gradient"], grad)
        denominator = b.sub(denominator, b.square(slots["average_gradient"]))
    increment = b.div(b.mul(_rate(b, step, param), grad),
                      b.sqrt(b.add(denominator, _const(b, hyper["epsilon"], param))))
    if hyper["momentum"] > 0:
        slots["momentum"] = b.add(b.mul(_const(b, hyper["momentum"], param), slots["momentum"]),
                                  increment)
        increment = slots["momentum"]
    return b.sub(param, increment), list(slots.values())


def _adam_slots(hyper):
    return [("momentum", 0.0), ("velocity", 0.0)] + [("velocity_hat", 0.0)] * hyper["amsgrad"]


def _adam(b: Builder, hyper, step, param, grad, slots):
    """Bias-corrected moments: `p -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)`;
    `amsgrad` divides by the largest `v` so far."""
    t = step.count(b, param.type.dtype)
    one = _const(b, 1, param)
    alpha = b.div(b.mul(_rate(b, step, param),
                        b.sqrt(b.sub(one, b.pow(_const(b, hyper["beta_2"], param), t)))),
                  b.sub(one, b.pow(_const(b, hyper["beta_1"], param), t)))
    m = _moving(b, slots[0], grad, _const(b, 1 - hyper["beta_1"], param))
    v = _moving(b, slots[1], b.square(grad), _const(b, 1 - hyper["beta_2"], param))
    new_slots = [m, v]
    if hyper["amsgrad"]:
        v = b.maximum(slots[2], v)
        new_slots.append(v)
    step_size = b.div(b.mul(m, alpha), b.add(b.sqrt(v), _const(b, hyper["epsilon"], param)))
    return b.sub(param, step_size), new_slots


def _adagrad(b: Builder, hyper, step, param, grad, slots):
    """`a += g^2; p -= lr g / sqrt(a + eps)`."""
    accumulator = b.add(slots[0], b.square(grad))
    root = b.sqrt(b.add(accumulator, _const(b, hyper["epsilon"], param)))
    return b.sub(param, b.div(b.mul(_rate(b, step, param), grad), root)), [accumulator]


def _adamax(b: Builder, hyper, step, param, grad, slots):
    """Adam with the infinity norm: `u = max(b2 u, |g|); p -= lr m / ((1 - b1^t)(u + eps))`."""
    t = step.count(b, param.type.dtype)
    m = _moving(b, slots[0], grad, _const(b, 1 - hyper["beta_1"], param))
    u = b.maximum(b.mul(_const(b, hyper["beta_2"], param), slots[1]), b.abs(grad))
    correction = b.sub(_const(b, 1, param), b.pow(_const(b, hyper["beta_1"], param), t))
    denominator = b.mul(correction, b.add(u, _const(b, hyper["epsilon"], param)))
    return b.sub(param, b.div(b.mul(_rate(b, step, param), m), denominator)), [m, u]


def _nadam_momentum(b: Builder, beta_1: Value, step: Step, ahead: int) -> Value:
    """Nadam's momentum schedule `beta_1 (1 - 0.5 * 0.96^(iterations + ahead))`."""
    decay = b.pow(_const(b, 0.96, beta_1), step.count(b, beta_1.type.dtype, ahead))
    return b.mul(beta_1, b.sub(_const(b, 1.0, beta_1), b.mul(_const(b, 0.5, beta_1), decay)))


def _nadam_advance(b: Builder, hyper, step: Step) -> dict[str, Value]:
    u_product = step.shared["u_product"]
    beta_1 = _const(b, hyper["beta_1"], u_product)
    factor = b.sub(_const(b, 1.0, u_product), b.mul(_const(b, 0.5, u_product), b.pow(
        _const(b, 0.96, u_product), step.count(b, u_product.type.dtype))))
    return {"u_product": b.mul(b.mul(u_product, beta_1), factor)}


def _nadam(b: Builder, hyper, step, param, grad, slots):
    """Adam with Nesterov momentum, its `beta_1` scheduled (`u_t`), the product of the
    schedule so far kept in `u_product`."""
    one = _const(b, 1.0, param)
    beta_1, beta_2 = _const(b, hyper["beta_1"], param), _const(b, hyper["beta_2"], param)
    u_t, u_next = _nadam_momentum(b, beta_1, step, 1), _nadam_momentum(b, beta_1, step, 2)
    u_product = b.cast(step.shared["u_product"], param.type.dtype)
    u_product_next = b.mul(u_product, u_next)
    m = _moving(b, slots[0], grad, b.sub(one, beta_1))
    v = _moving(b, slots[1], b.square(grad), b.sub(one, beta_2))
    m_hat = b.add(b.div(b.mul(u_next, m), b.sub(one, u_product_next)),
                  b.div(b.mul(b.sub(one, u_t), grad), b.sub(one, u_product)))
    v_hat = b.div(v, b.sub(one, b.pow(beta_2, step.count(b, param.type.dtype))))
    step_size = b.div(b.mul(m_hat, _rate(b, step, param)),
                      b.add(b.sqrt(v_hat), _const(b, hyper["epsilon"], param)))
    return b.sub(param, step_size), [m, v]


def _lion(b: Builder, hyper, step, param, grad, slots):
    """`p -= lr sign(b1 m + (1 - b1) g); m = b2 m + (1 - b2) g`."""
    one = _const(b, 1.0, param)
    beta_1, beta_2 = _const(b, hyper["beta_1"], param), _const(b, hyper["beta_2"], param)
    (m,) = slots
    direction = b.sign(b.add(b.mul(m, beta_1), b.mul(grad, b.sub(one, beta_1))))
    param = b.sub(param, b.mul(_rate(b, step, param), direction))
    return param, [b.add(b.mul(m, beta_2), b.mul(grad, b.sub(one, beta_2)))]


_ADAM = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}

OPTIMIZERS: dict[str, Optimizer] = {
    "SGD": Optimizer(_keras_args(0.01, momentum=0.0, nesterov=False),
                     lambda hyper: [("momentum", 0.0)] * bool(hyper["momentum"]), _sgd,
                     "gradient descent, optionally with (Nesterov) momentum"),
    "RMSprop": Optimizer(_keras_args(0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                                     centered=False), _rmsprop_slots, _rmsprop,
                         "divides the gradient by a running RMS of its magnitude"),
    "Adam": Optimizer(_keras_args(0.001, **_ADAM), _adam_slots, _adam,
                      "adaptive moment estimation"),
    "AdamW": Optimizer(_keras_args(0.001, weight_decay=0.004, **_ADAM), _adam_slots, _adam,
                       "Adam with decoupled weight decay"),
    "Adagrad": Optimizer(_keras_args(0.001, initial_accumulator_value=0.1, epsilon=1e-7),
                         lambda hyper: [("accumulator", hyper["initial_accumulator_value"])],
                         _adagrad, "divides by the root of the summed squared gradients"),
    "Adamax": Optimizer(_keras_args(0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
                        lambda hyper: [("momentum", 0.0), ("norm", 0.0)], _adamax,
                        "Adam with the infinity norm"),
    "Nadam": Optimizer(_keras_args(0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
                       lambda hyper: [("momentum", 0.0), ("velocity", 0.0)], _nadam,
                       "Adam with Nesterov momentum", shared=(("u_product", 1.0),),
                       advance=_nadam_advance),
    "Lion": Optimizer(_keras_args(0.001, beta_1=0.9, beta_2=0.99), lambda hyper: [("momentum", 0.0)],
                      _lion,
                      "steps by the sign of an interpolated momentum"),
}
# Keras accepts an optimizer by its lower-case name with default settings.
ALIASES = {name.lower(): name for name in OPTIMIZERS}


@dataclass(frozen=True)
class StateEntry:
    """One entry of the optimizer's state; `param` names the parameter a slot is of."""

    name: str
    type: TensorType
    initial: float | int
    param: str | None = None


def state_entries(optimizer: Optimizer, hyper: dict,
                  params: list[tuple[str, TensorType]]) -> list[StateEntry]:
    """The optimizer's state for `params` (name, type), in `train_step`'s order."""
    scalar = TensorType("f32", ())
    entries = [StateEntry(ITERATIONS, TensorType("i32", ()), 0)]
    if isinstance(hyper["learning_rate"], (int, float)):
        entries.append(StateEntry(LEARNING_RATE, scalar, float(hyper["learning_rate"])))
    entries += [StateEntry(SHARED_PREFIX + name, scalar, initial)
                for name, initial in optimizer.shared]
    entries += [StateEntry(f"{param}/{slot}", ptype, initial, param)
                for param, ptype in params for slot, initial in optimizer.slots(hyper)]
    return entries


def clip_gradients(b: Builder, hyper: dict, grads: list[Value]) -> list[Value]:
    """Keras' `_clip_gradients`: one of `clipnorm`, `global_clipnorm`, `clipvalue`."""
    if (norm := hyper["clipnorm"]) and norm > 0:
        return [b.div(b.mul(g, _const(b, norm, g)), b.maximum(_l2(b, g), _const(b, norm, g)))
                for g in grads]
    if (norm := hyper["global_clipnorm"]) and norm > 0 and grads:
        squares = [b.sum(b.square(g), axes=tuple(range(g.type.rank))) for g in grads]
        total = squares[0]
        for square in squares[1:]:
            total = b.add(total, square)
        total = b.sqrt(total)
        # `total - total` turns the scale into NaN where the norm is not finite.
        scale = b.add(b.mul(_const(b, norm, total), b.minimum(
            b.div(_const(b, 1.0, total), total), _const(b, 1.0 / norm, total))),
            b.sub(total, total))
        return [b.mul(g, b.cast(scale, g.type.dtype)) for g in grads]
    if (value := hyper["clipvalue"]) and value > 0:
        return [b.minimum(b.maximum(g, _const(b, -value, g)), _const(b, value, g))
                for g in grads]
    return grads


def _l2(b: Builder, g: Value) -> Value:
    return b.sqrt(b.sum(b.square(g), axes=tuple(range(g.type.rank))))


def apply(b: Builder, optimizer: Optimizer, hyper: dict, learning_rate: Value,
          state: dict[str, Value], params: list[Value],
          grads: list[Value]) -> tuple[list[Value], dict[str, Value]]:
    """One update of `params` (the arguments, named) by `grads` at `learning_rate` (f32
    scalar): the new parameters and the new `state` (by `state_entries`' names)."""
    grads = clip_gradients(b, hyper, grads)
    step = Step(learning_rate, state[ITERATIONS],
                {name: state[SHARED_PREFIX + name] for name, _ in optimizer.shared})
    new_state = dict(state)
    if optimizer.advance is not None:
        step = Step(learning_rate, step.iterations, optimizer.advance(b, hyper, step))
        new_state.update({SHARED_PREFIX + k: v for k, v in step.shared.items()})
    new_state[ITERATIONS] = b.add(step.iterations, b.const(1, "i32"))
    names = [name for name, _ in optimizer.slots(hyper)]
    new_params = []
    for param, grad in zip(params, grads):
        at = b.at(param.loc)
        value = param
        if hyper["weight_decay"] is not None:
            decayed = at.mul(param, _const(at, hyper["weight_decay"], param))
            value = at.sub(param, at.mul(decayed, _rate(at, step, param)))
        slots = [state[f"{param.name}/{name}"] for name in names]
        value, slots = optimizer.update(at, hyper, step, value, grad, slots)
        new_params.append(value)
        new_state.update(zip((f"{param.name}/{name}" for name in names), slots))
    return new_params, new_state
