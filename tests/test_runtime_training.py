"""Tests for runtime/training.py: fit in steps and epochs modes, History, evaluation,
prediction and early stopping, with hand-written JAX linear-regression functions."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dslc.runtime.data import Dataset
from dslc.runtime.callbacks import EarlyStopping
from dslc.runtime.training import History, evaluate_dataset, fit, predict_batches

LEARNING_RATE = 0.1


def _predict(params, x):
    weights, bias = params
    return x @ weights + bias


def _loss_and_metrics(params, x, y):
    error = _predict(params, x) - y
    return jnp.mean(error**2), (jnp.mean(jnp.abs(error)),)


def step(params, opt_state, x, y):
    """Plain SGD; `opt_state` counts steps so that its threading is tested too."""
    (loss, metrics), grads = jax.value_and_grad(_loss_and_metrics, has_aux=True)(params, x, y)
    params = tuple(p - LEARNING_RATE * g for p, g in zip(params, grads))
    return params, (opt_state[0] + 1,), loss, metrics


def evaluate(params, x, y):
    return _loss_and_metrics(params, x, y)


def regression_data(rows=100, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype(np.float32)
    return Dataset(x, y)


def initial_state():
    return (np.zeros((3, 1), np.float32), np.zeros(1, np.float32)), (np.int32(0),)


def quiet_fit(data, **options):
    params, opt_state = initial_state()
    return fit(step, params, opt_state, data, metric_names=["mae"], verbose=0, **options)


def test_steps_mode_full_batch_records_every_step_and_logs_one_line_of_means():
    lines = []
    params, opt_state = initial_state()
    result = fit(step, params, opt_state, regression_data(), steps=40, metric_names=["mae"], log=lines.append)
    losses = result.history.history["loss"]
    assert len(losses) == 40 and len(result.history.history["mae"]) == 40
    assert losses[-1] < 0.05 * losses[0]
    assert result.history.steps == 40 and result.history.epochs is None
    assert int(result.opt_state[0]) == 40
    assert len(lines) == 1 and lines[0].startswith("40/40 - ")
    assert lines[0].endswith(" - loss: %.4f - mae: %.4f" % (np.mean(losses), np.mean(result.history.history["mae"])))


def test_epochs_mode_with_partial_batch_counts_steps_and_keys():
    train, validation = regression_data(rows=100).split(0.2)
    result = quiet_fit(train, epochs=3, batch_size=32, validation=validation, evaluate=evaluate)
    history = result.history
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    assert all(len(values) == 3 for values in history.history.values())
    assert history.epochs == 3 and history.steps == 3 * 3  # 80 rows: 32 + 32 + 16
    assert int(result.opt_state[0]) == 9
    assert history.history["loss"][2] < history.history["loss"][0]


def test_same_seed_gives_identical_history_and_other_seed_differs():
    data = regression_data()
    first = quiet_fit(data, epochs=2, batch_size=16, seed=5).history.history
    again = quiet_fit(data, epochs=2, batch_size=16, seed=5).history.history
    other = quiet_fit(data, epochs=2, batch_size=16, seed=6).history.history
    assert first == again
    assert first != other


def test_scan_equals_a_python_loop_of_jitted_steps():
    data = regression_data(rows=50)
    batch_size, steps = 8, 20
    result = quiet_fit(data, steps=steps, batch_size=batch_size, shuffle=False, steps_per_call=7)
    # Unshuffled steps mode cuts batches from the stream 0..49, 0..49, ...
    stream = np.concatenate([np.arange(50)] * 4)
    jitted_step = jax.jit(step)
    params, opt_state = initial_state()
    losses = []
    for i in range(steps):
        rows = stream[i * batch_size : (i + 1) * batch_size]
        params, opt_state, loss, _ = jitted_step(params, opt_state, data.x[rows], data.y[rows])
        losses.append(float(loss))
    np.testing.assert_allclose(result.history.history["loss"], losses, rtol=1e-6, atol=1e-7)
    for fitted, looped in zip(result.params, params):
        np.testing.assert_allclose(fitted, looped, rtol=1e-6, atol=1e-7)


def test_steps_per_call_does_not_change_results():
    data = regression_data()
    one_call = quiet_fit(data, steps=12, batch_size=10).history.history["loss"]
    many_calls = quiet_fit(data, steps=12, batch_size=10, steps_per_call=5).history.history["loss"]
    np.testing.assert_allclose(one_call, many_calls, rtol=1e-6)


def test_caller_params_are_not_donated():
    params, opt_state = initial_state()
    params = tuple(jnp.asarray(p) for p in params)
    fit(step, params, opt_state, regression_data(), steps=3, metric_names=["mae"], verbose=0)
    assert float(jnp.sum(params[0])) == 0.0  # still readable, unchanged


def test_steps_mode_validation_is_recorded_once():
    train, validation = regression_data().split(0.25)
    history = quiet_fit(train, steps=5, validation=validation, evaluate=evaluate).history
    assert len(history.history["loss"]) == 5 and len(history.history["val_loss"]) == 1


def test_argument_errors():
    data = regression_data()
    with pytest.raises(ValueError, match="either `epochs` or `steps`"):
        quiet_fit(data, epochs=1, steps=1)
    with pytest.raises(ValueError, match="needs an `evaluate`"):
        quiet_fit(data, steps=1, validation=data)
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer"):
        quiet_fit(data, steps=1, batch_size=0)
    params, opt_state = initial_state()
    with pytest.raises(ValueError, match="1 metrics but 0 metric names"):
        fit(step, params, opt_state, data, steps=1, verbose=0)


def test_history_json_is_written_atomically(tmp_path):
    history = History({"loss": [1.0, 0.5], "val_loss": [float("nan")]}, epochs=2, steps=8)
    path = tmp_path / "history.json"
    path.write_text("old")
    history.to_json(path)
    assert json.loads(path.read_text()) == {"loss": [1.0, 0.5], "val_loss": [None], "epochs": 2, "steps": 8}
    assert [p.name for p in tmp_path.iterdir()] == ["history.json"]


def test_evaluate_dataset_weights_batches_by_size():
    data = regression_data(rows=50)
    params, _ = initial_state()
    whole, (whole_mae,) = evaluate_dataset(evaluate, params, data)
    batched, (batched_mae,) = evaluate_dataset(evaluate, params, data, batch_size=16)
    np.testing.assert_allclose(batched, whole, rtol=1e-5)
    np.testing.assert_allclose(batched_mae, whole_mae, rtol=1e-5)


def test_predict_batches_pads_the_last_batch():
    data = regression_data(rows=23)
    params = (np.ones((3, 1), np.float32), np.ones(1, np.float32))
    predictions = predict_batches(_predict, params, data.x, batch_size=5)
    assert predictions.shape == (23, 1)
    np.testing.assert_allclose(predictions, data.x @ params[0] + params[1], rtol=1e-5)
    both = predict_batches(lambda p, x: (_predict(p, x), x), params, data.x, batch_size=5)
    assert isinstance(both, tuple) and both[1].shape == (23, 3)


def test_early_stopping_stops_when_the_monitor_stalls():
    stalled = EarlyStopping(monitor="loss", patience=0, min_delta=1e9)
    history = quiet_fit(regression_data(), epochs=10, batch_size=20, callbacks=[stalled]).history
    assert history.epochs == 2 and len(history.history["loss"]) == 2
