"""Non-trained state, the training/inference mode and random draws in training: the
signature they give the functions, the same dropout masks and state updates on XLA,
TensorFlow and PyTorch, the wrappers of the emitted modules, and the diagnostics."""

from __future__ import annotations

import numpy as np
import pytest

import dslc
from dslc.compiler.agreement import verify
from dslc.compiler.ops.threefry import step_seed_source
from dslc.runtime.training import step_seed

SOURCE = """
model M(x: f32[B, 2]) -> f32[B, 1] {
    return x |> Dense(8, activation=relu) |> BatchNormalization(momentum=0.9)
             |> Dropout(0.3) |> Dense(1, activation=sigmoid)
}

train M {
    data = two_blobs(per_class=40, seed=1)
    loss = binary_crossentropy
    optimizer = Adam(learning_rate=0.01)
    batch_size = 16
    steps = 6
    seed = 5
}
"""


@pytest.fixture(scope="module")
def program():
    return dslc.compile(SOURCE, filename="stateful.nn")


def test_signature_has_rng_state_and_modes(program):
    functions = program.module.functions
    roles = [a.role for a in functions["train_step"].args]
    assert roles[0] == "rng" and roles.count("state") == 2
    assert [a.role for a in functions["predict"].args].count("rng") == 0
    assert functions["train_step"].result_roles.count("state") == 2
    assert program.meta["modes"] == {"predict": "inference", "eval_step": "inference",
                                     "train_step": "training"}
    assert program.state_names == ["batch_normalization/moving_mean",
                                   "batch_normalization/moving_variance"]


def test_step_seed_is_the_formula_the_emitters_use():
    for seed, step in ((0, 0), (5, 1), (2**31 - 1, 12345), (7, 2**31 - 1)):
        expected = eval(step_seed_source(str(seed), str(step)))
        assert int(step_seed(seed, step)) == expected


def test_three_backends_draw_the_same_masks_and_update_the_same_state(program):
    """`dslc verify` trains XLA, TF and torch in lockstep: losses, parameters, moving
    statistics and optimizer slots agree at every step, dropout included."""
    result = verify(program, 6, torch_backend="aot_eager", log=None)
    assert result.ok, result.culprit


def test_training_changes_the_state_and_fit_returns_it(program):
    result = program.fit(log=None, verbose=0)
    initial = program.init(5)
    for name in program.state_names:
        assert name in result.params
        assert not np.allclose(result.params[name], initial[name])


def test_dropout_masks_differ_between_steps_and_repeat_for_a_seed(program):
    x = np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    variables, slots = program.init(5), program.init_optimizer()
    losses = [program.train_step(variables, slots, x, y, step)[2] for step in (0, 1, 0)]
    assert losses[0] != losses[1] and losses[0] == losses[2]


@pytest.mark.parametrize("target", ["tf", "torch"])
def test_emitted_wrapper_keeps_state_and_counts_steps(program, target):
    namespace: dict = {}
    exec(compile(program.emit(target), f"<{target}>", "exec"), namespace)
    model = namespace["Model"](seed=5, **({"backend": "aot_eager"} if target == "torch" else {}))
    x = np.random.default_rng(1).normal(size=(16, 2)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    if target == "torch":
        import torch

        x, y = torch.from_numpy(x), torch.from_numpy(y)
        state = lambda: [getattr(model, n).numpy().copy() for n in model.variable_names]  # noqa: E731
    else:
        state = lambda: [v.numpy().copy() for v in model.state]  # noqa: E731
    before = state()
    model.train_step(x, y)
    model.train_step(x, y)
    assert int(model.steps.numpy() if target == "tf" else model.steps) == 2
    variables, slots = program.init(5), program.init_optimizer()
    for step in (0, 1):
        variables, slots, _, _ = program.train_step(variables, slots, np.asarray(x),
                                                    np.asarray(y), step)
    for ours, mine, start in zip(state(), [variables[n] for n in program.state_names], before):
        assert not np.allclose(ours, start)
        np.testing.assert_allclose(ours, mine, rtol=1e-5, atol=1e-6)


BAD = {
    "not a state": ("layer L() {\n    (x: f32[B, 2]) -> f32[B, 2]\n    y = x\n"
                    "    update y = x * 2\n    return y\n}", "E0303", "not a `state`"),
    "wrong type": ("layer L() {\n    (x: f32[B, 2]) -> f32[B, 2]\n"
                   "    state s: f32[2] = zeros\n    update s = x\n    return x\n}",
                   "E0205", "the new value of `s` is `f32[B, 2]`, but the state is `f32[2]`"),
    "twice": ("layer L() {\n    (x: f32[B, 2]) -> f32[B, 2]\n    state s: f32[2] = zeros\n"
              "    update s = s + 1\n    update s = s + 2\n    return x\n}",
              "E0103", "given a new value twice"),
    "draw in inference": ("layer L() {\n    (x: f32[B, 2]) -> f32[B, 2]\n"
                          "    return random.dropout(x, 0.5)\n}", "E0303",
                          "draws only in training"),
    "condition": ("layer L(flag = 1) {\n    (x: f32[B, 2]) -> f32[B, 2]\n"
                  "    return if flag { x } else { x * 2 }\n}", "E0304",
                  "must be a bool known at compile time"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_misuse_is_a_diagnostic_at_the_users_line(case):
    layer, code, message = BAD[case]
    source = f"{layer}\n\nmodel M(x: f32[B, 2]) -> f32[B, 2] {{\n    return x |> L()\n}}\n"
    with pytest.raises(dslc.CompileError) as error:
        dslc.compile(source, filename="bad.nn")
    rendered = error.value.render()
    assert f"error[{code}]" in rendered and message in rendered
    assert "bad.nn:" in rendered and "^" in rendered


def test_if_blocks_declare_parameters_only_when_asked():
    source = """
layer Biased(units: int, use_bias: bool = true) {
    (x: f32[B, in]) -> f32[B, units]
    param kernel: f32[in, units] = ones
    if use_bias {
        param bias: f32[units] = ones
    }
    y = x @ kernel
    return if use_bias { y + bias } else { y }
}

model M(x: f32[B, 2]) -> f32[B, 3] {
    return x |> Biased(3) |> Biased(3, use_bias=false)
}
"""
    program = dslc.compile(source, filename="if.nn")
    assert program.param_names == ["biased/kernel", "biased/bias", "biased_1/kernel"]
    out = program.predict(program.init(0), np.ones((1, 2), np.float32))
    np.testing.assert_array_equal(out, np.full((1, 3), 9.0, np.float32))


def test_artifact_records_state_and_modes(program, tmp_path):
    import json

    program.export(tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [s["name"] for s in manifest["state"]] == program.state_names
    assert manifest["modes"]["train_step"] == "training"
    roles = [entry["role"] for entry in manifest["functions"]["train_step"]["inputs"]]
    assert roles[0] == "rng" and roles.count("state") == 2
