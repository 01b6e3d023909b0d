"""Keras 3 (JAX backend) as the oracle for models built from dslc's Keras-named layers.

`Oracle(source, keras_layers, input_shape)` compiles a `.nn` model and builds the same
stack in Keras, with dslc's initial variables copied into it (parameters into Keras'
trainable variables, state into its non-trainable ones, both in declaration order).
Then it compares what a user sees: inference outputs, the loss gradient in training
mode, and the variables after several optimizer steps.

dslc's gradient is read from one `train_step` under `SGD(learning_rate=2**10)`: the
update `old - new` is then `2**10 * grad` with only the final subtraction rounded (the
scaling by a power of two is exact), so `(old - new) / 2**10` recovers the gradient to
about 2**-34 relative to the variable.

A single layer (one input or several, masks, training or inference mode) is checked by
`check_against_keras`, the one such check of the suite: dslc's IR gradient of
`<output, cotangent>` (`vjp_function`) against `jax.vjp` of Keras' `stateless_call`,
for every float input and every weight.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import numpy as np  # noqa: E402

import dslc  # noqa: E402
from dslc.compiler.backends.jax_lower import jit  # noqa: E402
from dslc.compiler.passes.autodiff import vjp_function  # noqa: E402

GRADIENT_RATE = 2.0 ** 10
TOLERANCE = 1e-5  # normwise relative error, f32, of a layer against Keras


def relative_error(ours, theirs, floor: float = 1e-30) -> float:
    """Normwise relative error `|ours - theirs| / max(|theirs|, floor)` in float64."""
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    scale = max(float(np.linalg.norm(theirs)), floor)
    return float(np.linalg.norm(ours - theirs)) / scale


def errors(ours, theirs) -> list[float]:
    """The relative error of each of several arrays (the gradients, or the variables, of
    a model), measured against 1% of their joint norm where an array's own norm is
    smaller: a value that is zero in exact arithmetic (the gradient of a bias before a
    normalization, and so that bias) is rounding noise in both and has no relative
    error of its own."""
    whole = float(np.sqrt(sum(np.sum(np.square(np.float64(t))) for t in theirs)))
    return [relative_error(a, b, floor=0.01 * whole) for a, b in zip(ours, theirs)]


def model_source(model: str, body: str, optimizer: str, loss: str = "mean_squared_error") -> str:
    """A `.nn` program: `model` (its header and body lines) trained by `optimizer`."""
    return f"""{model} {{
    return {body}
}}

train M {{
    data = two_blobs(per_class=8)
    loss = {loss}
    optimizer = {optimizer}
    batch_size = all
    steps = 1
}}
"""


def seed_counter(variable) -> bool:
    return "seed_generator" in variable.path


class Oracle:
    """One model in dslc and in Keras with the same variables; see the module docstring."""

    def __init__(self, header: str, body: str, keras_layers, input_shape, *,
                 optimizer: str = "SGD(learning_rate=0.1)", keras_optimizer=None, seed=0):
        import keras

        self.programs = {
            "train": dslc.compile(model_source(header, body, optimizer)),
            "grad": dslc.compile(model_source(header, body,
                                              f"SGD(learning_rate={GRADIENT_RATE})")),
        }
        program = self.programs["train"]
        self.variables = program.init(seed)
        self.model = keras.Sequential([keras.Input(input_shape), *keras_layers])
        params = [self.variables[n] for n in program.param_names]
        state = [self.variables[n] for n in program.state_names]
        for kind, ours, theirs in (("trainable", params, self.model.trainable_variables),
                                   ("non-trainable", state,
                                    self.keras_state)):
            assert [v.shape for v in ours] == [tuple(v.shape) for v in theirs], (
                f"{kind} variables differ: {[v.shape for v in ours]} vs "
                f"{[tuple(v.shape) for v in theirs]}")
            for variable, value in zip(theirs, ours):
                variable.assign(value)
        self.keras_optimizer = keras_optimizer

    @property
    def keras_state(self) -> list:
        """Keras' non-trainable variables that are the model's state: not the seed
        generators' counters (dslc's draws take the step's seed instead)."""
        return [v for v in self.model.non_trainable_variables if not seed_counter(v)]

    @property
    def program(self):
        return self.programs["train"]

    def predict(self, x):
        """(dslc, Keras) outputs in inference mode."""
        return (self.program.predict(self.variables, x),
                np.asarray(self.model(x, training=False)))

    def gradients(self, x, y):
        """(dslc, Keras) gradients of the mean squared error in training mode, one
        array per parameter, and (dslc, Keras) state after that step."""
        import keras

        program = self.programs["grad"]
        opt = program.init_optimizer()
        after, _, _, _ = program.train_step(self.variables, opt, x, y)
        ours = [(np.float64(self.variables[n]) - np.float64(after[n])) / GRADIENT_RATE
                for n in program.param_names]
        trainable = [v.value for v in self.model.trainable_variables]
        non_trainable = [v.value for v in self.model.non_trainable_variables]

        def loss(trainable):
            out, new_state = self.model.stateless_call(trainable, non_trainable, x,
                                                       training=True)
            return keras.losses.mean_squared_error(y, out).mean(), new_state

        (_, new_state), theirs = jax.value_and_grad(loss, has_aux=True)(trainable)
        return (ours, [np.asarray(g) for g in theirs],
                [after[n] for n in program.state_names],
                [np.asarray(s) for v, s in zip(self.model.non_trainable_variables, new_state)
                 if not seed_counter(v)])

    def train(self, x, y, steps: int):
        """(dslc, Keras) variables (parameters, then state) after `steps` full-batch
        steps of the program's optimizer and `keras_optimizer`."""
        self.model.compile(optimizer=self.keras_optimizer, loss="mean_squared_error")
        variables, opt = dict(self.variables), self.program.init_optimizer()
        for step in range(steps):
            variables, opt, _, _ = self.program.train_step(variables, opt, x, y, step)
            self.model.train_on_batch(x, y)
        names = self.program.param_names + self.program.state_names
        theirs = self.model.trainable_variables + self.keras_state
        return [variables[n] for n in names], [np.asarray(v.value) for v in theirs]


def compile_layer(inputs: str, body: str):
    """`model M(inputs) -> f32 { return body }`: its predict function's VJP, jitted, and
    its param names in argument order."""
    program = dslc.compile(f"model M({inputs}) -> f32 {{\n    return {body}\n}}\n")
    predict = program.module.functions["predict"]
    return jit(vjp_function(predict)), [a.name for a in predict.args_with("param")]


def stacked_layer(expression: str, input_shape):
    """`compile_layer` for `x |> expression` on `x: f32[N, *input_shape]`."""
    dims = ", ".join(map(str, input_shape))
    return compile_layer(f"x: f32[N, {dims}]", f"x |> {expression}")


def within_layer(path: str) -> str:
    """A weight's path below its layer (`lstm/kernel` -> `kernel`, `mha/query/kernel`
    -> `query/kernel`): the name a dslc weight and its Keras twin share."""
    return path.split("/", 1)[-1]


def stateless(join=lambda out: out, non_trainable=()):
    """A `call` for `check_against_keras`: Keras' `stateless_call` on the arrays, its
    output made one array by `join`."""
    def call(layer, trainable, arrays, mode):
        return join(layer.stateless_call(trainable, list(non_trainable), *arrays, **mode)[0])
    return call


def check_against_keras(layer, names, run, arrays, call, rng, modes=({},), key=within_layer):
    """`run(*weights, *arrays, ct)` (from `compile_layer`) against `jax.vjp` of
    `call(layer, trainable, arrays, mode)` for each `mode` (`{"training": False}`):
    outputs, then gradients of every weight and every float input. Keras' weights
    (random, copied into dslc) are matched to dslc's `names` by `key`, which maps a
    Keras path and a dslc name alike to the name they share."""
    weights = [rng.standard_normal(v.shape).astype(np.float32) * 0.5
               for v in layer.trainable_variables]
    keras_keys = [key(v.path) for v in layer.trainable_variables]
    assert sorted(map(key, names)) == sorted(keras_keys), (names, keras_keys)
    params = [weights[keras_keys.index(key(n))] for n in names]
    floats = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    for mode in modes:
        def forward(trainable, float_arrays):
            given = list(arrays)
            for i, a in zip(floats, float_arrays):
                given[i] = a
            return call(layer, trainable, given, mode)

        want, keras_vjp = jax.vjp(forward, weights, [arrays[i] for i in floats])
        ct = rng.standard_normal(want.shape).astype(np.float32)
        want_weights, want_inputs = keras_vjp(ct)
        got, *grads = run(*params, *arrays, ct)
        assert got.shape == want.shape
        assert relative_error(got, want) <= TOLERANCE, f"outputs differ in {mode}"
        # A weight whose gradient is zero in exact arithmetic (attention's key bias, which
        # shifts a softmax row) is measured against the weights' joint norm (`errors`).
        theirs = [want_weights[keras_keys.index(key(n))] for n in names]
        for name, error in zip(names, errors(grads[:len(names)], theirs)):
            assert error <= TOLERANCE, f"gradients of `{name}` differ in {mode}"
        for i, ours, want_input in zip(floats, grads[len(names):], want_inputs):
            assert relative_error(ours, want_input) <= TOLERANCE, (
                f"gradients of input {i} differ in {mode}")
