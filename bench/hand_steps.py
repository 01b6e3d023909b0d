"""The baselines for the training-step benchmark: the examples' `train_step` written
by hand in JAX (`jax.value_and_grad` of the same loss, the same metric and update).

Each step takes and returns flat arrays in dslc's calling convention,
(params..., opt_state..., x, y) -> (params..., opt_state..., loss, metric), so both
sides pay the same dispatch cost; neither donates buffers.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

LEARNING_RATE = 0.1
MOMENTUM = 0.9
EPSILON = 1e-7
"""Keras' clipping of probabilities before the log, as dslc's prelude does."""


# -- examples/linear_classifier.nn: MSE, SGD, binary_accuracy --------------------


def linear_loss(params, x, y):
    weights, bias = params
    prediction = x @ weights + bias
    loss = jnp.mean(jnp.square(prediction - y))
    predicted_class = (prediction > 0.5).astype(jnp.float32)
    accuracy = jnp.mean((predicted_class == y).astype(jnp.float32))
    return loss, accuracy


def linear_train_step(weights, bias, x, y):
    """Plain SGD: p - lr * g."""
    (loss, accuracy), grads = jax.value_and_grad(linear_loss, has_aux=True)((weights, bias), x, y)
    new_weights, new_bias = (p - LEARNING_RATE * g for p, g in zip((weights, bias), grads))
    return new_weights, new_bias, loss, accuracy


# -- examples/mlp.nn: 2-64-64-3 MLP, sparse CE on softmax, SGD with momentum -------


def softmax(logits):
    shifted = logits - jax.lax.stop_gradient(jnp.max(logits, axis=-1, keepdims=True))
    exponentials = jnp.exp(shifted)
    return exponentials / jnp.sum(exponentials, axis=-1, keepdims=True)


def mlp_forward(params, x):
    w1, b1, w2, b2, w3, b3 = params
    hidden = jax.nn.relu(x @ w1 + b1)
    hidden = jax.nn.relu(hidden @ w2 + b2)
    return softmax(hidden @ w3 + b3)


def sparse_categorical_crossentropy(labels, probabilities):
    """Keras' version on probabilities: renormalize, clip, log."""
    one_hot = jax.nn.one_hot(labels, probabilities.shape[-1], dtype=jnp.float32)
    normalized = probabilities / jnp.sum(probabilities, axis=-1, keepdims=True)
    clipped = jnp.clip(normalized, EPSILON, 1 - EPSILON)
    return -jnp.mean(jnp.sum(one_hot * jnp.log(clipped), axis=-1))


def mlp_loss(params, x, y):
    probabilities = mlp_forward(params, x)
    loss = sparse_categorical_crossentropy(y, probabilities)
    predicted = jnp.argmax(probabilities, axis=1).astype(y.dtype)
    accuracy = jnp.mean((y == predicted).astype(jnp.float32))
    return loss, accuracy


def mlp_train_step(*arrays):
    """Keras' SGD momentum: v = momentum * v - lr * g; p = p + v."""
    params, velocities, (x, y) = arrays[:6], arrays[6:12], arrays[12:]
    (loss, accuracy), grads = jax.value_and_grad(mlp_loss, has_aux=True)(params, x, y)
    new_velocities = [MOMENTUM * v - LEARNING_RATE * g for v, g in zip(velocities, grads)]
    new_params = [p + v for p, v in zip(params, new_velocities)]
    return (*new_params, *new_velocities, loss, accuracy)


HAND_STEPS = {
    "linear_classifier": jax.jit(linear_train_step),
    "mlp": jax.jit(mlp_train_step),
}
