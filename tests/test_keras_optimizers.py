"""Keras 3's optimizers and learning-rate schedules in dslc and in Keras 3 itself (JAX
backend): a small Dense model with the same initial weights trained on the same batch for
40 steps, every optimizer with and without each of its options, and Keras' gradient
clipping and weight decay on each; the parameters after every step agree to f32 relative
error 1e-5. Each schedule's rate at every step agrees with Keras' schedule, and rewriting
`optimizer/learning_rate` between steps acts as assigning Keras' `learning_rate`."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import dslc  # noqa: E402
from dslc.compiler.backends.jax_lower import jit  # noqa: E402
from dslc.compiler.builder import Builder  # noqa: E402
from dslc.compiler.ir import UNKNOWN_LOC, Function, TensorType  # noqa: E402
from dslc.compiler.optimizers import ITERATIONS, LEARNING_RATE  # noqa: E402
from dslc.compiler.schedules import SCHEDULES  # noqa: E402
from keras_oracle import TOLERANCE, errors  # noqa: E402

STEPS = 40
MODEL = """model M(x: f32[B, 3]) -> f32[B, 2] {
    return x |> Dense(4, activation=tanh) |> Dense(2)
}

train M {
    data = two_blobs(per_class=8)
    loss = mean_squared_error
    optimizer = %s
    batch_size = all
    steps = 1
}
"""

# Each optimizer's own options, as (.nn arguments, Keras keyword arguments); its first
# entry is its defaults at a learning rate that moves the weights visibly in 40 steps.
OWN_OPTIONS = {
    "SGD": [("learning_rate=0.05", dict(learning_rate=0.05)),
            ("learning_rate=0.05, momentum=0.9", dict(learning_rate=0.05, momentum=0.9)),
            ("learning_rate=0.05, momentum=0.9, nesterov=true",
             dict(learning_rate=0.05, momentum=0.9, nesterov=True))],
    "RMSprop": [("learning_rate=0.005", dict(learning_rate=0.005)),
                ("learning_rate=0.005, rho=0.8", dict(learning_rate=0.005, rho=0.8)),
                ("learning_rate=0.005, momentum=0.5", dict(learning_rate=0.005, momentum=0.5)),
                ("learning_rate=0.005, epsilon=0.01", dict(learning_rate=0.005, epsilon=0.01)),
                ("learning_rate=0.005, centered=true", dict(learning_rate=0.005, centered=True)),
                ("learning_rate=0.005, centered=true, momentum=0.5",
                 dict(learning_rate=0.005, centered=True, momentum=0.5))],
    "Adam": [("learning_rate=0.01", dict(learning_rate=0.01)),
             ("learning_rate=0.01, beta_1=0.8, beta_2=0.99",
              dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99)),
             ("learning_rate=0.01, epsilon=0.1", dict(learning_rate=0.01, epsilon=0.1)),
             ("learning_rate=0.01, amsgrad=true", dict(learning_rate=0.01, amsgrad=True))],
    "AdamW": [("learning_rate=0.01", dict(learning_rate=0.01)),
              ("learning_rate=0.01, weight_decay=0.1",
               dict(learning_rate=0.01, weight_decay=0.1)),
              ("learning_rate=0.01, amsgrad=true", dict(learning_rate=0.01, amsgrad=True))],
    "Adagrad": [("learning_rate=0.1", dict(learning_rate=0.1)),
                ("learning_rate=0.1, initial_accumulator_value=0.5",
                 dict(learning_rate=0.1, initial_accumulator_value=0.5)),
                ("learning_rate=0.1, epsilon=0.01", dict(learning_rate=0.1, epsilon=0.01))],
    "Adamax": [("learning_rate=0.01", dict(learning_rate=0.01)),
               ("learning_rate=0.01, beta_1=0.8, beta_2=0.99",
                dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99)),
               ("learning_rate=0.01, epsilon=0.01", dict(learning_rate=0.01, epsilon=0.01))],
    "Nadam": [("learning_rate=0.01", dict(learning_rate=0.01)),
              ("learning_rate=0.01, beta_1=0.8, beta_2=0.99",
               dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99)),
              ("learning_rate=0.01, epsilon=0.01", dict(learning_rate=0.01, epsilon=0.01))],
    "Lion": [("learning_rate=0.01", dict(learning_rate=0.01)),
             ("learning_rate=0.01, beta_1=0.5, beta_2=0.9",
              dict(learning_rate=0.01, beta_1=0.5, beta_2=0.9))],
}
# Keras' `BaseOptimizer` options, each tried on every optimizer.
COMMON_OPTIONS = [("weight_decay=0.05", dict(weight_decay=0.05)),
                  ("clipnorm=0.1", dict(clipnorm=0.1)),
                  ("clipvalue=0.01", dict(clipvalue=0.01)),
                  ("global_clipnorm=0.1", dict(global_clipnorm=0.1))]

CASES = [(name, args, kwargs) for name, options in OWN_OPTIONS.items()
         for args, kwargs in options]
CASES += [(name, f"{options[0][0]}, {args}", {**options[0][1], **kwargs})
          for name, options in OWN_OPTIONS.items() for args, kwargs in COMMON_OPTIONS]

# Each schedule, as (.nn call, Keras constructor arguments).
SCHEDULE_CASES = [
    ("ExponentialDecay(0.05, decay_steps=10, decay_rate=0.5)", (0.05, 10, 0.5)),
    ("ExponentialDecay(0.05, 7, 0.5, staircase=true)", (0.05, 7, 0.5, True)),
    ("InverseTimeDecay(0.05, decay_steps=10, decay_rate=0.5)", (0.05, 10, 0.5)),
    ("InverseTimeDecay(0.05, 7, 0.5, staircase=true)", (0.05, 7, 0.5, True)),
    ("PolynomialDecay(0.05, decay_steps=25, end_learning_rate=0.001, power=2.0)",
     (0.05, 25, 0.001, 2.0)),
    ("PolynomialDecay(0.05, 16, cycle=true)", (0.05, 16, 0.0001, 1.0, True)),
    ("CosineDecay(0.05, decay_steps=30)", (0.05, 30)),
    ("CosineDecay(0.05, decay_steps=30, alpha=0.1)", (0.05, 30, 0.1)),
    ("CosineDecay(0.01, decay_steps=20, warmup_target=0.1, warmup_steps=10)",
     (0.01, 20, 0.0, "CosineDecay", 0.1, 10)),
    ("PiecewiseConstantDecay(boundaries=[5, 20], values=[0.1, 0.05, 0.01])",
     ([5, 20], [0.1, 0.05, 0.01])),
]

# Periods whose steps XLA's reciprocal rounds across a multiple (`schedules.
# _whole_periods`): Keras' schedule computes them exactly where it runs eagerly (and on
# TensorFlow and PyTorch), as dslc does on every backend.
EXACT_PERIOD_CASES = [
    ("PolynomialDecay(0.05, 15, cycle=true)", (0.05, 15, 0.0001, 1.0, True)),
    ("ExponentialDecay(0.05, 49, 0.5, staircase=true)", (0.05, 49, 0.5, True)),
    ("InverseTimeDecay(0.05, 2.5, 0.5, staircase=true)", (0.05, 2.5, 0.5, True)),
]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    return (rng.normal(size=(16, 3)).astype(np.float32),
            rng.normal(size=(16, 2)).astype(np.float32))


@pytest.fixture(scope="module")
def initial():
    """The model's initial weights, drawn by dslc once for every case."""
    program = dslc.compile(MODEL % "sgd")
    return program.init(0)


def keras_model(program, variables):
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                              keras.layers.Dense(2)])
    for variable, name in zip(model.trainable_variables, program.param_names):
        variable.assign(variables[name])
    return model


def train_both(optimizer: str, keras_optimizer, initial, data, on_step=None):
    """The parameters after each of 40 steps in dslc and in Keras, both from `initial`;
    `on_step(step, opt_state, keras_optimizer)` may change the state before a step."""
    program = dslc.compile(MODEL % optimizer)
    model = keras_model(program, initial)
    model.compile(optimizer=keras_optimizer, loss="mean_squared_error")
    variables, opt_state = dict(initial), program.init_optimizer()
    ours, theirs = [], []
    for step in range(STEPS):
        if on_step is not None:
            opt_state = on_step(step, opt_state, keras_optimizer)
        variables, opt_state, _, _ = program.train_step(variables, opt_state, *data)
        model.train_on_batch(*data)
        ours.append([variables[n] for n in program.param_names])
        theirs.append([np.asarray(v.value) for v in model.trainable_variables])
    assert int(opt_state[ITERATIONS]) == int(keras_optimizer.iterations) == STEPS
    return ours, theirs


def assert_agree(ours, theirs):
    for step, (mine, keras_values) in enumerate(zip(ours, theirs)):
        assert max(errors(mine, keras_values)) <= TOLERANCE, f"differ after step {step + 1}"


@pytest.mark.parametrize("name, args, kwargs", CASES,
                         ids=[f"{name}({args})" for name, args, _ in CASES])
def test_optimizer_matches_keras(name, args, kwargs, initial, data):
    import keras

    ours, theirs = train_both(f"{name}({args})", getattr(keras.optimizers, name)(**kwargs),
                              initial, data)
    assert_agree(ours, theirs)


def test_lower_case_name_is_keras_defaults(initial, data):
    import keras

    assert_agree(*train_both('"adam"', keras.optimizers.Adam(), initial, data))


def keras_schedule(call: str, args):
    import keras

    return getattr(keras.optimizers.schedules, call.split("(")[0])(*args)


RATE_CASES = SCHEDULE_CASES + EXACT_PERIOD_CASES


@pytest.mark.parametrize("call, args", RATE_CASES, ids=[c for c, _ in RATE_CASES])
def test_schedule_rate_matches_keras_at_every_step(call, args):
    """The rate the compiled schedule computes from `iterations`, from the arguments the
    front end bound, against Keras' schedule, past the end of its decay."""
    spec = dslc.compile(MODEL % f"SGD(learning_rate={call})").meta["optimizer"]
    schedule = spec["args"]["learning_rate"]
    function = Function("rate")
    iterations = function.add_arg(TensorType("i32", ()), "iterations")
    function.results = [SCHEDULES[schedule["name"]].rate(Builder(function, UNKNOWN_LOC),
                                                         schedule["args"], iterations)]
    rate = jit(function)
    theirs = keras_schedule(call, args)
    for step in range(3 * STEPS):
        (ours,), want = rate(np.int32(step)), float(theirs(step))
        assert abs(ours - want) <= TOLERANCE * abs(want), f"step {step}: {ours} vs {want}"


@pytest.mark.parametrize("call, args", SCHEDULE_CASES, ids=[c for c, _ in SCHEDULE_CASES])
def test_scheduled_adam_with_clipping_matches_keras(call, args, initial, data):
    import keras

    optimizer = keras.optimizers.Adam(keras_schedule(call, args), global_clipnorm=0.5)
    assert_agree(*train_both(f"Adam(learning_rate={call}, global_clipnorm=0.5)", optimizer,
                             initial, data))


def test_rewriting_the_learning_rate_acts_as_assigning_keras_learning_rate(initial, data):
    """What a ReduceLROnPlateau callback does: the rate drops to a tenth at step 20."""
    import keras

    def reduce(step, opt_state, keras_optimizer):
        if step == STEPS // 2:
            keras_optimizer.learning_rate = 0.001
            return {**opt_state, LEARNING_RATE: np.float32(0.001)}
        return opt_state

    ours, theirs = train_both("RMSprop(learning_rate=0.01, momentum=0.5)",
                              keras.optimizers.RMSprop(0.01, momentum=0.5), initial, data,
                              on_step=reduce)
    assert_agree(ours, theirs)
