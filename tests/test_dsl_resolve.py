"""Name resolution: scopes, SSA bindings, duplicates and train targets."""

from dslc.dsl import parse, resolve

BUILTINS = {"relu", "softmax", "identity", "zeros", "uniform", "random_normal", "Dense", "Flatten", "Dropout",
            "MultiHeadAttention", "LayerNormalization", "grad", "exp", "max", "sum", "two_blobs", "SGD", "all",
            "mean_squared_error", "binary_accuracy"}


def codes(text: str, builtins=BUILTINS) -> list[tuple[str, str]]:
    result = parse(text, "r.nn")
    assert result.ok, result.diagnostics
    return [(d.code, d.span.text) for d in resolve(result.module, builtins)]


def test_examples_resolve_cleanly():
    from test_dsl_parse import EXAMPLES

    text = "\n".join(EXAMPLES.values())
    assert codes(text, BUILTINS | {"npz"}) == []


def test_dim_symbols_and_params_are_in_scope():
    text = """
    layer L(heads: int) {
        (x: f32[B, T, D]) -> f32[B, T, D]
        param W: f32[D, D] = zeros
        return x @ W * (D / heads) + T
    }
    """
    assert codes(text) == []


def test_undefined_names_collected():
    text = "fn f(x) {\n a = y + q\n return a + z\n}"
    assert codes(text) == [("E0101", "y"), ("E0101", "q"), ("E0101", "z")]


def test_param_shape_dims_must_be_bound():
    text = "model M(x: f32[B, n]) -> f32[B, 1] {\n param W: f32[m, 1] = zeros\n return x @ W\n}"
    assert codes(text) == [("E0101", "m")]


def test_keyword_and_attribute_names_are_not_resolved():
    assert codes("fn f(x) = Dense(1, unknown_kw=relu)(x).whatever") == []


def test_rebinding_parameters_and_names():
    text = "fn f(x, x) {\n a, a = x\n x = 1\n return a\n}"
    assert [c for c, _ in codes(text)] == ["E0103", "E0103", "E0103"]


def test_duplicate_definitions_and_shadowing_builtins():
    assert codes("fn softmax(x) = x\nmodel softmax(x) { return x }") == [("E0102", "softmax")]


def test_defaults_resolve_in_global_scope():
    assert codes("fn f(x, act = relu, bad = nope) = act(x)") == [("E0101", "nope")]


def test_train_targets():
    text = """
    fn f(x) = x
    model M(x) { return x }
    train M { loss = mean_squared_error }
    train f { loss = mean_squared_error }
    train Nope { loss = mean_squared_eror }
    train Imported { steps = 1 }
    """
    assert codes(text, BUILTINS | {"Imported"}) == [("E0405", "f"), ("E0405", "Nope"), ("E0101", "mean_squared_eror")]


def test_functions_may_refer_to_later_definitions():
    assert codes("fn a = grad(b)\nfn b(x) = x * 2") == []
