"""BatchNormalization, LayerNormalization and Dropout against Keras 3 itself (JAX
backend): the same variables in both, then inference outputs, training-mode gradients
and state, and the variables after 10 optimizer steps, to f32 relative error 1e-5."""

from __future__ import annotations

import numpy as np
import pytest

from keras_oracle import Oracle, errors, relative_error

TOLERANCE = 1e-5
RNG = np.random.default_rng(7)
X = RNG.normal(1.5, 2.0, (16, 6)).astype(np.float32)
Y = RNG.normal(0.0, 1.0, (16, 3)).astype(np.float32)


def dense_stack(middle: str, keras_middle):
    import keras

    header = "model M(x: f32[B, 6]) -> f32[B, 3]"
    body = f"x |> Dense(5) |> {middle} |> Dense(3, activation=tanh)"
    layers = [keras.layers.Dense(5), keras_middle, keras.layers.Dense(3, activation="tanh")]
    return header, body, layers


def normalization_cases():
    import keras

    return {
        "batch_norm": ("BatchNormalization()", keras.layers.BatchNormalization()),
        "batch_norm_args": ("BatchNormalization(momentum=0.5, epsilon=0.01, center=false)",
                            keras.layers.BatchNormalization(momentum=0.5, epsilon=0.01,
                                                            center=False)),
        "layer_norm": ("LayerNormalization()", keras.layers.LayerNormalization()),
        "layer_norm_args": ("LayerNormalization(epsilon=0.1, scale=false)",
                            keras.layers.LayerNormalization(epsilon=0.1, scale=False)),
    }


CASES = ["batch_norm", "batch_norm_args", "layer_norm", "layer_norm_args"]


def oracle(case: str, **options) -> Oracle:
    middle, keras_middle = normalization_cases()[case]
    return Oracle(*dense_stack(middle, keras_middle), (6,), **options)


@pytest.mark.parametrize("case", CASES)
def test_inference_outputs_match_keras(case):
    ours, theirs = oracle(case).predict(X)
    assert relative_error(ours, theirs) <= TOLERANCE


@pytest.mark.parametrize("case", CASES)
def test_training_gradients_and_state_match_keras(case):
    grads, keras_grads, state, keras_state = oracle(case).gradients(X, Y)
    assert max(errors(grads, keras_grads)) <= TOLERANCE
    assert len(state) == len(keras_state)
    for ours, theirs in zip(state, keras_state):
        assert relative_error(ours, theirs) <= TOLERANCE


@pytest.mark.parametrize("case", ["batch_norm", "layer_norm"])
def test_ten_sgd_steps_match_keras(case):
    import keras

    ours, theirs = oracle(case, optimizer="SGD(learning_rate=0.05, momentum=0.9)",
                          keras_optimizer=keras.optimizers.SGD(0.05, momentum=0.9)
                          ).train(X, Y, steps=10)
    assert max(errors(ours, theirs)) <= TOLERANCE


def test_batch_norm_state_moves_in_training_only():
    """predict reads the moving statistics; train_step returns them updated."""
    case = oracle("batch_norm")
    program = case.program
    before = {n: case.variables[n] for n in program.state_names}
    after, _, _, _ = program.train_step(case.variables, program.init_optimizer(), X, Y)
    for name in program.state_names:
        assert not np.allclose(after[name], before[name])
    moved = dict(case.variables, **{n: after[n] for n in program.state_names})
    assert not np.allclose(program.predict(moved, X), program.predict(case.variables, X))


def dropout_program(rate: float):
    import dslc

    from keras_oracle import model_source

    return dslc.compile(model_source("model M(x: f32[B, 6]) -> f32[B, 6]",
                                     f"x |> Dropout({rate})", "SGD(learning_rate=0.1)"))


def test_dropout_is_the_identity_in_inference():
    import keras

    program = dropout_program(0.4)
    expected = np.asarray(keras.layers.Dropout(0.4)(X, training=False))
    np.testing.assert_array_equal(program.predict({}, X), expected)


def test_dropout_in_training_keeps_with_probability_and_rescales():
    """Keras' masks come from its own seed generator, so the bits differ; the law is
    the same: each element is kept with probability 1 - rate and scaled by its inverse,
    and every step draws a new mask from the run's seed."""
    program = dropout_program(0.25)
    x = np.ones((4000, 6), np.float32)
    train_step = program.module.functions["train_step"]
    assert [a.role for a in train_step.args][0] == "rng"
    outputs = []
    for step in (0, 1):
        from dslc.compiler.backends.jax_lower import lower_function
        from dslc.runtime.training import step_seed

        predict_train = lower_function(dropout_forward(program))
        outputs.append(np.asarray(predict_train(step_seed(0, step), x)[0]))
    for out in outputs:
        assert set(np.unique(out)) <= {0.0, np.float32(1 / 0.75)}
        assert abs(np.mean(out == 0) - 0.25) < 0.01
    assert not np.array_equal(outputs[0], outputs[1])


def dropout_forward(program):
    """The training-mode forward of `program`'s one Dropout: its train_step's mask,
    read through the state-free output `x * mask` by differentiating nothing else."""
    from dslc.compiler.ir import Function

    step = program.module.functions["train_step"]
    select = next(n for n in step.nodes if n.op == "select")
    rng, x = step.args_with("rng")[0], step.args_with("input")[0]
    nodes = step.nodes[:step.nodes.index(select) + 1]
    return Function("dropout", [rng, x], nodes, [select.result])


def test_dropout_rate_out_of_range_is_a_diagnostic():
    import dslc

    from keras_oracle import model_source

    with pytest.raises(dslc.CompileError) as error:
        dslc.compile(model_source("model M(x: f32[B, 6]) -> f32[B, 6]", "x |> Dropout(1.0)",
                                  "SGD(learning_rate=0.1)"))
    assert "E0304" in error.value.render() and "dropout rate is in [0, 1)" in error.value.render()
