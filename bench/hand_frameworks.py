"""The baselines for the emitted-module benchmark (`emit_steps`): the two programs'
`train_step` written by hand in TensorFlow (`tf.GradientTape` under
`tf.function(jit_compile=True)`) and in PyTorch (`torch.func.grad_and_value` under
`torch.compile(fullgraph=True)`, inductor).

Each step has the emitted functions' calling convention, flat tensors in and out:
(params..., opt_state..., x, y) -> (params..., opt_state..., loss, metric), with
Adam's state laid out as dslc does, (m, v, t) per parameter. No variables on either
side. The math is the prelude's and compiler/optimizers.py's (Keras 3 semantics).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import torch  # noqa: E402

LINEAR_LEARNING_RATE = 0.1
ADAM = {"learning_rate": 1e-3, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
EPSILON = 1e-7
"""Keras' clipping of probabilities before the log, as dslc's prelude does."""
CLASSES = 10
MLP_PARAMS = 6
ADAM_SLOTS = 3


def adam_update(param, grad, m, v, t, sqrt):
    """Keras' Adam for one parameter, on TF or torch tensors alike (operators only):
    the step count `t` is a float scalar, bias correction folded into the rate."""
    t = t + 1.0
    m = ADAM["beta_1"] * m + (1 - ADAM["beta_1"]) * grad
    v = ADAM["beta_2"] * v + (1 - ADAM["beta_2"]) * grad * grad
    rate = ADAM["learning_rate"] * sqrt(1.0 - ADAM["beta_2"] ** t) / (1.0 - ADAM["beta_1"] ** t)
    return param - rate * m / (sqrt(v) + ADAM["epsilon"]), (m, v, t)


def apply_adam(params, grads, slots, sqrt) -> tuple:
    """New params then new slots, flat, in dslc's order."""
    new_params, new_slots = [], []
    for index, (param, grad) in enumerate(zip(params, grads)):
        m, v, t = slots[ADAM_SLOTS * index:ADAM_SLOTS * (index + 1)]
        param, state = adam_update(param, grad, m, v, t, sqrt)
        new_params.append(param)
        new_slots.extend(state)
    return (*new_params, *new_slots)


# -- TensorFlow: tf.GradientTape under tf.function(jit_compile=True) -------------


def tf_linear_train_step(weights, bias, x, y):
    """examples/linear_classifier.nn: MSE, plain SGD, binary_accuracy."""
    with tf.GradientTape() as tape:
        tape.watch([weights, bias])
        prediction = x @ weights + bias
        loss = tf.reduce_mean(tf.square(prediction - y))
    grads = tape.gradient(loss, [weights, bias])
    accuracy = tf.reduce_mean(tf.cast(tf.cast(prediction > 0.5, tf.float32) == y, tf.float32))
    new_weights, new_bias = (p - LINEAR_LEARNING_RATE * g for p, g in zip((weights, bias), grads))
    return new_weights, new_bias, loss, accuracy


def tf_mlp_loss(params, x, y):
    w1, b1, w2, b2, w3, b3 = params
    hidden = tf.nn.relu(x @ w1 + b1)
    hidden = tf.nn.relu(hidden @ w2 + b2)
    probabilities = tf.nn.softmax(hidden @ w3 + b3)
    # Keras' sparse categorical crossentropy on probabilities: renormalize, clip, log.
    normalized = probabilities / tf.reduce_sum(probabilities, axis=-1, keepdims=True)
    clipped = tf.clip_by_value(normalized, EPSILON, 1 - EPSILON)
    one_hot = tf.one_hot(y, CLASSES, dtype=tf.float32)
    loss = -tf.reduce_mean(tf.reduce_sum(one_hot * tf.math.log(clipped), axis=-1))
    return loss, probabilities


def tf_mlp_train_step(*arrays):
    """784-512-256-10 MLP: sparse CE on softmax, Adam, sparse_categorical_accuracy."""
    params, slots = arrays[:MLP_PARAMS], arrays[MLP_PARAMS:-2]
    x, y = arrays[-2:]
    with tf.GradientTape() as tape:
        tape.watch(params)
        loss, probabilities = tf_mlp_loss(params, x, y)
    grads = tape.gradient(loss, params)
    predicted = tf.math.argmax(probabilities, axis=-1, output_type=tf.int32)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(y, predicted), tf.float32))
    return (*apply_adam(params, grads, slots, tf.sqrt), loss, accuracy)


def tf_step(step, arrays):
    """`step` under `tf.function(jit_compile=True)`, with the input signature the
    emitted functions have (the batch dimension left open)."""
    specs = [tf.TensorSpec(a.shape, a.dtype) for a in arrays[:-2]]
    specs += [tf.TensorSpec((None, *a.shape[1:]), a.dtype) for a in arrays[-2:]]
    return tf.function(step, jit_compile=True, autograph=False, input_signature=specs)


# -- PyTorch: torch.func.grad_and_value under torch.compile(fullgraph=True) ------


def torch_linear_loss(params, x, y):
    weights, bias = params
    prediction = x @ weights + bias
    accuracy = ((prediction > 0.5).float() == y).float().mean()
    return torch.mean(torch.square(prediction - y)), accuracy


def torch_linear_train_step(weights, bias, x, y):
    grads, (loss, accuracy) = torch.func.grad_and_value(torch_linear_loss, has_aux=True)(
        (weights, bias), x, y)
    new_weights, new_bias = (p - LINEAR_LEARNING_RATE * g for p, g in zip((weights, bias), grads))
    return new_weights, new_bias, loss, accuracy


def torch_mlp_loss(params, x, y):
    w1, b1, w2, b2, w3, b3 = params
    hidden = torch.relu(x @ w1 + b1)
    hidden = torch.relu(hidden @ w2 + b2)
    probabilities = torch.softmax(hidden @ w3 + b3, dim=-1)
    normalized = probabilities / probabilities.sum(dim=-1, keepdim=True)
    clipped = normalized.clamp(EPSILON, 1 - EPSILON)
    one_hot = torch.nn.functional.one_hot(y.long(), CLASSES).float()
    loss = -(one_hot * clipped.log()).sum(dim=-1).mean()
    accuracy = (probabilities.argmax(dim=-1) == y).float().mean()
    return loss, accuracy


def torch_mlp_train_step(*arrays):
    params, slots = arrays[:MLP_PARAMS], arrays[MLP_PARAMS:-2]
    x, y = arrays[-2:]
    grads, (loss, accuracy) = torch.func.grad_and_value(torch_mlp_loss, has_aux=True)(
        params, x, y)
    return (*apply_adam(params, grads, slots, torch.sqrt), loss, accuracy)


def torch_step(step):
    return torch.compile(step, backend="inductor", fullgraph=True)


HAND_TF = {"linear_classifier": tf_linear_train_step, "mlp_784": tf_mlp_train_step}
HAND_TORCH = {"linear_classifier": torch_linear_train_step, "mlp_784": torch_mlp_train_step}
