"""MultiHeadAttention of the prelude against Keras 3 itself (on JAX), and the `name=`
that names its sub-layers: the same weights and inputs give the same output and the
same gradients of `<output, cotangent>` with respect to every float input and every
weight (`keras_oracle.check_against_keras`), to a normwise relative error of 1e-5 in
f32, in inference, with and without masks, in self- and cross-attention, with
`return_attention_scores` and with `attention_axes` on rank-4 inputs; and a model with
it in training mode (its gradients, then 10 momentum SGD steps) beside the same Keras
model (`keras_oracle.Oracle`)."""

from __future__ import annotations

import numpy as np
import pytest

import dslc
from keras_oracle import TOLERANCE, Oracle, check_against_keras, compile_layer, errors

keras = pytest.importorskip("keras")
assert keras.backend.backend() == "jax", "set KERAS_BACKEND=jax before importing keras"

L = keras.layers
B, T, S, D, DV, DK = 2, 5, 4, 6, 7, 3


def keras_call(**options):
    """Keras' MHA applied to `arrays` (query, value[, key][, attention_mask])."""
    def call(layer, trainable, arrays, mode):
        query, value, *rest = arrays
        kwargs = dict(options)
        if rest and rest[-1].dtype.kind == "i":
            kwargs["attention_mask"] = rest.pop()
        if rest:
            kwargs["key"] = rest[0]
        non_trainable = [v.value for v in layer.non_trainable_variables]
        return layer.stateless_call(trainable, non_trainable, query, value, **kwargs,
                                    **mode)[0]
    return call


def attention_mask(rng, t, s):
    """A random `[B, t, s]` mask of 0s and 1s that lets every query attend somewhere."""
    mask = (rng.random((B, t, s)) < 0.6).astype(np.int32)
    mask[:, :, 0] = 1
    return mask


SELF = "x: f32[N, T, 6]"
CROSS = "x: f32[N, T, 6], y: f32[N, S, 7]"
CROSS_KEY = "x: f32[N, T, 6], y: f32[N, S, 7], k: f32[N, S, 3]"
MASKED = "x: f32[N, T, 6], y: f32[N, S, 7], m: i32[N, T, S]"

# (dslc inputs, dslc call, Keras layer config, Keras call options, dslc arrays' shapes)
CASES = {
    "self": (SELF, "MultiHeadAttention(2, 3)(x, x)", dict(num_heads=2, key_dim=3), {},
             "self"),
    "self_causal": (SELF, "MultiHeadAttention(3, 2)(x, x, use_causal_mask=true)",
                    dict(num_heads=3, key_dim=2), dict(use_causal_mask=True), "self"),
    # Keras' fused path (`jax.nn.dot_product_attention`) needs value_dim == key_dim; a
    # dropout (none in inference) sends Keras through its explicit masked softmax.
    "cross": (CROSS, "MultiHeadAttention(2, 4, value_dim=5, dropout=0.1)(x, y)",
              dict(num_heads=2, key_dim=4, value_dim=5, dropout=0.1), {}, "cross"),
    "cross_masked_explicit": (MASKED, "MultiHeadAttention(2, 3, dropout=0.1)(x, y, "
                              "attention_mask=m, use_causal_mask=true)",
                              dict(num_heads=2, key_dim=3, dropout=0.1),
                              dict(use_causal_mask=True), "mask"),
    "cross_key_causal": (CROSS_KEY, "MultiHeadAttention(2, 3, output_shape=8)(x, y, k, "
                         "use_causal_mask=true)", dict(num_heads=2, key_dim=3, output_shape=8),
                         dict(use_causal_mask=True), "key"),
    "cross_masked": (MASKED, "MultiHeadAttention(2, 3)(x, y, attention_mask=m)",
                     dict(num_heads=2, key_dim=3), {}, "mask"),
    "masked_causal_no_bias": (MASKED, "MultiHeadAttention(2, 3, use_bias=false)(x, y, "
                              "attention_mask=m, use_causal_mask=true)",
                              dict(num_heads=2, key_dim=3, use_bias=False),
                              dict(use_causal_mask=True), "mask"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_multi_head_attention_matches_keras_in_inference(case):
    inputs, body, config, options, kind = CASES[case]
    rng = np.random.default_rng(sorted(CASES).index(case))
    query = rng.standard_normal((B, T, D)).astype(np.float32)
    value = rng.standard_normal((B, S, DV)).astype(np.float32)
    arrays = {"self": [query], "cross": [query, value],
              "key": [query, value, rng.standard_normal((B, S, DK)).astype(np.float32)],
              "mask": [query, value, attention_mask(rng, T, S)]}[kind]
    layer = L.MultiHeadAttention(**config)
    key_shape = arrays[2].shape if kind == "key" else None
    if kind == "self":
        layer.build(query.shape, query.shape)
        call = keras_call(**options)
        keras_forward = lambda l, w, a, m: call(l, w, [a[0], a[0]], m)  # noqa: E731
    else:
        layer.build(query.shape, value.shape, key_shape)
        keras_forward = keras_call(**options)
    run, names = compile_layer(inputs, body)
    check_against_keras(layer, names, run, arrays, keras_forward, rng, ({"training": False},))


@pytest.mark.parametrize("which", [0, 1], ids=["output", "scores"])
def test_return_attention_scores_matches_keras(which):
    """`[output, scores]`: the scores are the masked softmax's probabilities, per head."""
    rng = np.random.default_rng(11 + which)
    arrays = [rng.standard_normal((B, T, D)).astype(np.float32),
              rng.standard_normal((B, S, DV)).astype(np.float32), attention_mask(rng, T, S)]
    layer = L.MultiHeadAttention(num_heads=2, key_dim=3)
    layer.build(arrays[0].shape, arrays[1].shape)
    run, names = compile_layer(MASKED, "MultiHeadAttention(2, 3)(x, y, attention_mask=m, "
                               f"use_causal_mask=true, return_attention_scores=true)[{which}]")

    def call(layer, trainable, given, mode):
        query, value, mask = given
        outputs = layer.stateless_call(trainable, [], query, value, attention_mask=mask,
                                       use_causal_mask=True, return_attention_scores=True,
                                       **mode)[0]
        return outputs[which]
    check_against_keras(layer, names, run, arrays, call, rng, ({"training": False},))


def self_attention(**options):
    """Keras' MHA called on `x` twice (query and value), as one layer of a Sequential."""
    class SelfAttention(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.attention = L.MultiHeadAttention(**options)

        def build(self, shape):
            self.attention.build(shape, shape)

        def call(self, x, training=None):
            return self.attention(x, x, use_causal_mask=True, training=training)
    return SelfAttention()


def attention_oracle(optimizer: str, keras_optimizer=None) -> Oracle:
    return Oracle("model M(x: f32[B, 5, 6]) -> f32",
                  "MultiHeadAttention(2, 3)(x, x, use_causal_mask=true) |> Dense(4)",
                  [self_attention(num_heads=2, key_dim=3), L.Dense(4)], (5, 6),
                  optimizer=optimizer, keras_optimizer=keras_optimizer)


X = np.random.default_rng(21).standard_normal((8, 5, 6)).astype(np.float32)
Y = np.random.default_rng(22).standard_normal((8, 5, 4)).astype(np.float32)


def test_training_mode_gradients_match_keras():
    grads, keras_grads, _, _ = attention_oracle("SGD(learning_rate=0.1)").gradients(X, Y)
    assert max(errors(grads, keras_grads)) <= TOLERANCE


def test_ten_momentum_steps_match_keras():
    # Not Adam: the key bias's gradient is zero in exact arithmetic (it shifts a softmax
    # row), and Adam's g / (|g| + eps) would make its rounding noise a full-size step.
    ours, theirs = attention_oracle("SGD(learning_rate=0.05, momentum=0.9)",
                                    keras.optimizers.SGD(0.05, momentum=0.9)
                                    ).train(X, Y, steps=10)
    assert max(errors(ours, theirs)) <= TOLERANCE


def test_weights_have_keras_names_and_shapes():
    program = dslc.compile("model M(x: f32[N, T, 6], y: f32[N, S, 7]) -> f32 {\n"
                           "    return MultiHeadAttention(2, 3, value_dim=5)(x, y)\n}\n")
    variables = program.init(0)
    shapes = {name.split("/", 1)[1]: tuple(variables[name].shape)
              for name in program.param_names}
    assert list(shapes.items()) == [
        ("query/kernel", (6, 2, 3)), ("query/bias", (2, 3)), ("key/kernel", (7, 2, 3)),
        ("key/bias", (2, 3)), ("value/kernel", (7, 2, 5)), ("value/bias", (2, 5)),
        ("attention_output/kernel", (2, 5, 6)), ("attention_output/bias", (6,))]


def test_causal_mask_blocks_the_future():
    """The output at step t does not depend on the queries after t."""
    program = dslc.compile("model M(x: f32[N, T, 4]) -> f32 {\n"
                           "    return MultiHeadAttention(2, 2)(x, x, use_causal_mask=true)\n}\n")
    variables = program.init(3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 6, 4)).astype(np.float32)
    changed = x.copy()
    changed[:, 4:] += 1.0
    before, after = (np.asarray(program.predict(variables, a)) for a in (x, changed))
    np.testing.assert_array_equal(before[:, :4], after[:, :4])
    assert not np.allclose(before[:, 4:], after[:, 4:])


def test_name_names_a_sub_layer_and_a_clash_is_a_diagnostic():
    program = dslc.compile("model M(x: f32[N, 3]) -> f32 {\n"
                           "    return x |> Dense(4, name=\"query\") |> Dense(2)\n}\n")
    assert program.param_names == ["query/kernel", "query/bias", "dense/kernel", "dense/bias"]
    for source, message in (
            ('x |> Dense(4, name="a/b")', "should be a non-empty string without `/`"),
            ('x |> Dense(4, name=3)', "found an int"),
            ('x |> Dense(4, name="dense") |> Dense(4)', "two layers are named `dense`")):
        with pytest.raises(dslc.CompileError) as error:
            dslc.compile(f"model M(x: f32[N, 3]) -> f32 {{\n    return {source}\n}}\n")
        assert message in str(error.value) and "<source>:2:" in str(error.value)


def test_none_compares_at_compile_time():
    program = dslc.compile("fn f(x: f32[3]) -> f32[3] {\n"
                           "    return if x == none { x } else { x + 1 }\n}\n")
    assert any(node.op == "add" for node in program.module.functions["f"].nodes)


# (Keras' `attention_axes`, `.nn` spelling): a `[B, 3, 4, 6]` query attends along 4,
# along 3 (for each of the 4), or over all 12 positions at once.
AXES = [((2,), "[2]"), ((1,), "1"), ((1, 2), "[1, -2]")]


@pytest.mark.parametrize("axes, spelled", AXES, ids=[a[1] for a in AXES])
@pytest.mark.parametrize("which", [0, 1], ids=["output", "scores"])
def test_attention_axes_match_keras(axes, spelled, which):
    rng = np.random.default_rng(len(axes) * 10 + which)
    query = rng.standard_normal((B, 3, 4, D)).astype(np.float32)
    value = rng.standard_normal((B, 3, 4, DV)).astype(np.float32)
    # Keras' mask: the scores' shape without the heads.
    kept = [3, 4][:2 - len(axes)] if axes != (1,) else [4]
    attended = [[3, 4][a - 1] for a in axes]
    mask = (rng.random((B, *kept, *attended, *attended)) < 0.7).astype(np.int32)
    mask[..., 0] = 1
    layer = L.MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=axes)
    layer.build(query.shape, value.shape)
    run, names = compile_layer(
        "x: f32[N, 3, 4, 6], y: f32[N, 3, 4, 7], m: i32[N, *]".replace(
            "*", ", ".join(map(str, mask.shape[1:]))),
        f"MultiHeadAttention(2, 3, attention_axes={spelled})(x, y, attention_mask=m, "
        f"return_attention_scores=true)[{which}]")

    def call(layer, trainable, given, mode):
        q, v, m = given
        return layer.stateless_call(trainable, [], q, v, attention_mask=m,
                                    return_attention_scores=True, **mode)[0][which]
    check_against_keras(layer, names, run, [query, value, mask], call, rng,
                        ({"training": False},))


@pytest.mark.parametrize("call, message", [
    ("attention_axes=[2])(x, x, use_causal_mask=true)",
     "`use_causal_mask` should be one of false, found true"),
    ("attention_axes=[3])(x, x)", "`attention_axes` should be axes of `f32[N, 3, 4, 6]` "
     "between the batch and the features, found a list `[3]`"),
])
def test_bad_attention_axes_or_causal_mask_are_refused_at_the_call(call, message):
    with pytest.raises(dslc.CompileError) as error:
        dslc.compile("model M(x: f32[N, 3, 4, 6]) -> f32 {\n    return MultiHeadAttention("
                     f"2, 3, {call}\n}}\n")
    rendered = error.value.render()
    assert "error[E0304]" in rendered and message in rendered
    assert "<source>:2:12" in rendered
