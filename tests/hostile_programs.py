"""A corpus of hostile `.nn` programs, each a way a user (or an editor mid-keystroke)
can go wrong: read by tests/test_robustness.py, which requires each to compile or to
end in diagnostics."""

MODEL = "model M(x: f32[N, 2]) -> f32[N, 1] {\n    return x |> Dense(1)\n}\n"
TRAIN_OK = ("    data = two_blobs()\n    loss = mean_squared_error\n"
            "    optimizer = sgd\n")


def train_with(setting: str) -> str:
    return MODEL + "train M {\n" + TRAIN_OK + f"    {setting}\n}}\n"


HOSTILE = {
    # recursion
    "fn_self_recursion": "fn f(x) = f(x)\nmodel M(x: f32[N]) -> f32[N] {\n    return f(x)\n}",
    "typed_fn_recursion": "fn f(x: f32[]) -> f32[] = f(x)",
    "mutual_fn_recursion": "fn f(x: f32[]) -> f32[] = g(x)\nfn g(x: f32[]) -> f32[] = f(x)",
    "alias_self": "fn f = f",
    "alias_cycle": "fn f = g\nfn g = f",
    "alias_grad_cycle": "fn f = grad(g)\nfn g = grad(f)",
    "alias_of_alias_call": "fn f = g\nfn g = f\nfn h(x: f32[]) -> f32[] = f(x)",
    "layer_calls_itself": "layer L(units: int) {\n    (x: f32[B, in]) -> f32[B, units]\n"
                          "    return x |> L(units)\n}\n"
                          "model M(x: f32[B, 2]) -> f32[B, 2] {\n    return x |> L(2)\n}",
    "layer_fn_mutual": "fn f(x) = x |> L()\nlayer L() {\n    (x: f32[B, D]) -> f32[B, D]\n"
                       "    return f(x)\n}\nmodel M(x: f32[B, 2]) -> f32[B, 2] {\n"
                       "    return x |> L()\n}",
    "model_calls_itself": "model M(x: f32[N, 2]) -> f32[N, 2] {\n    return M(x)\n}",
    "default_recursion": "fn f(x, y = f(1)) = x\nfn g(x: f32[]) -> f32[] = f(x)",
    "layer_default_recursion": "layer L(u = L()) {\n    (x: f32[B, D]) -> f32[B, D]\n"
                               "    return x\n}\nmodel M(x: f32[B, 2]) -> f32[B, 2] {\n"
                               "    return x |> L()\n}",
    # grad
    "grad_non_scalar": "fn f(x: f32[N]) -> f32[N] = x ** 2\nfn df = grad(f)",
    "grad_non_scalar_call": "fn f(x: f32[3]) -> f32[3] = x * 2\n"
                            "fn g(x: f32[3]) -> f32[3] = grad(f)(x)",
    "grad_of_layer": "fn g(x: f32[]) -> f32[] = grad(Dense)(x)",
    "grad_of_layer_instance": "model M(x: f32[N, 2]) -> f32[N, 2] {\n"
                              "    return grad(Dense(1))(x)\n}",
    "grad_of_model": MODEL + "fn g(x: f32[3, 2]) -> f32[3, 2] = grad(M)(x)",
    "grad_of_builtin": "fn g(x: f32[]) -> f32[] = grad(relu)(x)",
    "grad_of_reduction": "fn g(x: f32[3]) -> f32[3] = grad(sum)(x)",
    "grad_of_grad_builtin": "fn g(x: f32[]) -> f32[] = grad(grad)(x)",
    "grad_of_spec": "fn g(x: f32[]) -> f32[] = grad(sgd)(x)",
    "grad_of_number": "fn g = grad(3)",
    "grad_grad_two_args": "fn f(a: f32[], b: f32[]) -> f32[] = a * b\n"
                          "fn g = grad(grad(f, argnums=1))\n"
                          "fn h(a: f32[], b: f32[]) -> f32[] = g(a, b)",
    "grad_argnums_out": "fn f(a: f32[], b: f32[]) -> f32[] = a * b\nfn g = grad(f, argnums=5)",
    "grad_argnums_negative": "fn f(a: f32[], b: f32[]) -> f32[] = a * b\n"
                             "fn g = grad(f, argnums=-1)",
    "grad_argnums_string": "fn f(a: f32[], b: f32[]) -> f32[] = a * b\n"
                           "fn g = grad(f, argnums=\"a\")",
    "grad_argnums_list_bad": "fn f(a: f32[], b: f32[]) -> f32[] = a * b\n"
                             "fn g = grad(f, argnums=[relu, 2.5])",
    "grad_has_aux_single": "fn f(a: f32[]) -> f32[] = a * a\n"
                           "fn g = value_and_grad(f, has_aux=true)",
    "grad_int_fn": "fn f(a: i32[]) -> i32[] = a * a\nfn g = grad(f)",
    "grad_bool_fn": "fn f(a: f32[]) -> bool[] = a > 0\nfn g = grad(f)",
    "grad_of_untyped": "fn f(x) = x * x\nfn g = grad(f)\nfn h(x: f32[]) -> f32[] = g(x)",
    "grad_kwargs": "fn f(x: f32[]) -> f32[] = x * x\nfn h(x: f32[]) -> f32[] = grad(f)(x=x)",
    "grad_no_args": "fn f(x: f32[]) -> f32[] = x * x\nfn h(x: f32[]) -> f32[] = grad(f)()",
    "grad_of_const_fn": "fn f(x: f32[]) -> f32[] = 3\nfn g = grad(f)",
    "grad_of_multi_result": "fn f(x: f32[]) -> (f32[], f32[]) {\n    return x, x\n}\n"
                            "fn g = grad(f)",
    "grad_tuple_result_value": "fn f(x: f32[]) {\n    return 1, 2\n}\nfn g = grad(f)\n"
                               "fn h(x: f32[]) -> f32[] = g(x)",
    "grad_in_model": "fn f(x: f32[]) -> f32[] = x * x\nmodel M(x: f32[N, 2]) -> f32[N, 2] {\n"
                     "    return grad(f)(x)\n}",
    # arity and kinds
    "builtin_too_many": "fn f(x: f32[N]) -> f32[N] = relu(x, x, x)",
    "builtin_missing": "fn f(x: f32[N]) -> f32[N] = reshape(x)",
    "layer_too_many": "model M(x: f32[N, 2]) -> f32[N, 1] {\n    return x |> Dense(1, relu, 3)\n}",
    "layer_instance_too_many": "model M(x: f32[N, 2]) -> f32[N, 1] {\n"
                               "    return Dense(1)(x, x)\n}",
    "model_wrong_arity": MODEL + "model M2(x: f32[N, 2]) -> f32[N, 1] {\n    return M(x, x)\n}",
    "fn_wrong_arity": "fn add(a, b) = a + b\nfn f(x: f32[]) -> f32[] = add(x)",
    "fn_unknown_kw": "fn add(a, b) = a + b\nfn f(x: f32[]) -> f32[] = add(x, c=1)",
    "fn_duplicate_kw": "fn add(a, b) = a + b\nfn f(x: f32[]) -> f32[] = add(a=x, a=x, b=x)",
    "pipe_into_number": "fn f(x: f32[N]) -> f32[N] = x |> 3",
    "pipe_into_string": "fn f(x: f32[N]) -> f32[N] = x |> \"relu\"",
    "pipe_into_tensor": "fn f(x: f32[N]) -> f32[N] = x |> x",
    "pipe_into_call_of_number": "fn f(x: f32[N]) -> f32[N] = x |> 3(1)",
    "pipe_duplicate_kw": "fn f(x: f32[N]) -> f32[N] = x |> sum(axis=0, axis=0)",
    "pipe_into_dtype": "fn f(x: f32[N]) -> f32[N] = x |> f32",
    "call_tensor": "fn f(x: f32[N]) -> f32[N] = x(2)",
    "call_number": "fn f(x: f32[N]) -> f32[N] = 3(x)",
    "call_list": "fn f(x: f32[N]) -> f32[N] = [x](0)",
    "call_dtype": "fn f(x: f32[N]) -> f32[N] = f32(x)",
    "call_spec_twice": "fn f(x: f32[N]) -> f32[N] = SGD(0.1)(3)",
    "call_all": "fn f(x: f32[N]) -> f32[N] = all(x)",
    "layer_outside_model": "fn f(x: f32[N, 2]) -> f32[N, 1] = x |> Dense(1)",
    "param_in_fn": "fn f(x: f32[N]) {\n    param W: f32[2] = zeros\n    return x\n}\n"
                   "fn g(x: f32[N]) -> f32[N] = f(x)",
    "tuple_unpack_mismatch": "fn f(x: f32[N]) -> f32[N] {\n    a, b = x\n    return a\n}",
    "tuple_into_tensor": "fn p(x) {\n    return x, x\n}\nfn f(x: f32[N]) -> f32[N] = p(x) + 1",
    "tuple_as_arg": "fn p(x) {\n    return x, x\n}\nfn f(x: f32[N]) -> f32[N] = relu(p(x))",
    # indexing and shapes
    "index_out_of_range": "fn f(x: f32[3]) -> f32[] = x[5]",
    "index_negative_out": "fn f(x: f32[3]) -> f32[] = x[-4]",
    "index_too_many": "fn f(x: f32[3]) -> f32[] = x[0, 0]",
    "index_scalar": "fn f(x: f32[]) -> f32[] = x[0]",
    "index_float": "fn f(x: f32[3]) -> f32[] = x[1.5]",
    "index_tensor": "fn f(x: f32[3]) -> f32[] = x[x]",
    "index_huge": "fn f(x: f32[3]) -> f32[] = x[100000000000000000000000]",
    "slice_symbolic": "fn f(x: f32[N, 3]) -> f32[N, 3] = x[1:, :]",
    "slice_zero_step": "fn f(x: f32[3]) -> f32[3] = x[::0]",
    "slice_negative_step": "fn f(x: f32[3]) -> f32[3] = x[::-1]",
    "slice_empty": "fn f(x: f32[3]) -> f32[0] = x[2:1]",
    "slice_string": "fn f(x: f32[3]) -> f32[3] = x[\"a\":]",
    "index_list_out": "fn f(x: f32[3]) -> f32[3] = [x][3]",
    "index_list_slice": "fn f(x: f32[3]) -> f32[3] = [x][0:1]",
    "index_number": "fn f(x: f32[3]) -> f32[3] = 3[0]",
    "index_shape_list": "fn f(x: f32[N, 3]) -> f32[N, 3] = reshape(x, [shape(x)[7], 3])",
    "reshape_wrong": "fn f(x: f32[2, 3]) -> f32[7] = reshape(x, [7])",
    "reshape_two_minus": "fn f(x: f32[2, 3]) -> f32[6] = reshape(x, [-1, -1])",
    "reshape_negative": "fn f(x: f32[2, 3]) -> f32[6] = reshape(x, [-2, -3])",
    "reshape_zero_inferred": "fn f(x: f32[2, 3]) -> f32[6] = reshape(x, [0, -1])",
    "reshape_symbolic": "fn f(x: f32[N, 3]) -> f32[M] = reshape(x, [M])",
    "reshape_not_list": "fn f(x: f32[2, 3]) -> f32[6] = reshape(x, 6)",
    "reshape_float_dims": "fn f(x: f32[2, 3]) -> f32[6] = reshape(x, [6.0])",
    "reshape_huge": "fn f(x: f32[2, 3]) -> f32[6] = reshape(x, [100000000000, 100000000000])",
    "sum_bad_axis": "fn f(x: f32[N, 2]) -> f32[N] = sum(x, axis=7)",
    "sum_axis_float": "fn f(x: f32[N, 2]) -> f32[N] = sum(x, axis=1.5)",
    "sum_axis_huge": "fn f(x: f32[N, 2]) -> f32[N] = sum(x, axis=100000000000000000000)",
    "transpose_bad_perm": "fn f(x: f32[N, 2]) -> f32[2, N] = transpose(x, [0, 0])",
    "transpose_perm_scalar": "fn f(x: f32[N, 2]) -> f32[2, N] = transpose(x, 1)",
    "concat_not_tensors": "fn f(x: f32[N, 2]) -> f32[N, 4] = concat([x, relu])",
    "concat_bad_axis": "fn f(x: f32[N, 2]) -> f32[N, 4] = concat([x, x], axis=5)",
    "concat_axis_str": "fn f(x: f32[N, 2]) -> f32[N, 4] = concat([x, x], axis=\"a\")",
    "concat_not_list": "fn f(x: f32[N, 2]) -> f32[N, 4] = concat(x)",
    "argmax_bad_axis": "fn f(x: f32[N, 2]) -> i32[N] = argmax(x, axis=9)",
    "argmax_axis_str": "fn f(x: f32[N, 2]) -> i32[N] = argmax(x, axis=\"z\")",
    "one_hot_huge": "fn f(x: i32[N]) -> f32[N, 3] = one_hot(x, 100000000000000)",
    "one_hot_bad_dtype": "fn f(x: i32[N]) -> f32[N, 3] = one_hot(x, 3, dtype=relu)",
    "one_hot_float_idx": "fn f(x: f32[N]) -> f32[N, 3] = one_hot(x, 3)",
    "cast_bad": "fn f(x: f32[N]) -> f32[N] = cast(x, \"float128\")",
    "cast_number": "fn f(x: f32[N]) -> f32[N] = cast(x, 3)",
    "where_mismatch": "fn f(x: f32[N], y: i32[N]) -> f32[N] = where(x > 0, x, y)",
    "where_cond_float": "fn f(x: f32[N]) -> f32[N] = where(x, x, x)",
    "matmul_mismatch": "fn f(x: f32[N, 3], w: f32[2, 1]) -> f32[N, 1] = x @ w",
    "matmul_scalars": "fn f(x: f32[], w: f32[]) -> f32[] = x @ w",
    "matmul_numbers": "fn f(x: f32[]) -> f32[] = 2 @ 3",
    "broadcast_mismatch": "fn f(a: f32[N, 3], b: f32[N, 2]) -> f32[N, 3] = a + b",
    "attribute_missing": "fn f(x: f32[N]) -> f32[N] = x.foo",
    "attribute_dunder_class": "fn f(x: f32[N]) -> f32[N] = x.__class__",
    "attribute_dunder_dict": "fn f(x: f32[N]) -> f32[N] = x.__dict__",
    "attribute_on_builtin": "fn f(x: f32[N]) -> f32[N] = relu.__globals__",
    "attribute_on_number": "fn f(x: f32[N]) -> f32[N] = (3).real",
    "shape_attr_arith": "fn f(x: f32[N, 2]) -> f32[N, 2] = x * x.shape",
    "rank_attr_call": "fn f(x: f32[N, 2]) -> f32[N, 2] = x.rank(1)",
    "dtype_attr_use": "fn f(x: f32[N, 2]) -> f32[N, 2] = x + x.dtype",
    # dims and types
    "symbolic_param": "model M(x: f32[B, 2]) -> f32[B, 1] {\n    param W: f32[B, 1] = zeros\n"
                      "    return x @ W\n}",
    "unbound_param_dim": "model M(x: f32[B, 2]) -> f32[B, 1] {\n"
                         "    param W: f32[Q, 1] = zeros\n    return x @ W\n}",
    "huge_dims": "model M(x: f32[100000000000, 100000000000]) -> f32[100000000000, 1] {\n"
                 "    param W: f32[100000000000, 1] = zeros\n    return x @ W\n}",
    "huge_param": "model M(x: f32[N, 2]) -> f32[N, 2] {\n"
                  "    param W: f32[100000000000, 100000000000] = zeros\n    return x\n}",
    "huge_int_literal_dim": "fn f(x: f32[999999999999999999999999999999]) -> f32[] = sum(x)",
    "zero_dim": "model M(x: f32[N, 0]) -> f32[N, 1] {\n    return x |> Dense(1)\n}",
    "negative_dim": "fn f(x: f32[N, 0 - 3]) -> f32[N] = sum(x, axis=1)",
    "negative_param_dim": "model M(x: f32[N, 2]) -> f32[N, 2] {\n"
                          "    param W: f32[2 - 5] = zeros\n    return x\n}",
    "dim_division_zero": "fn f(x: f32[N, 4 / 0]) -> f32[N] = sum(x, axis=1)",
    "dim_symbol_arith": "fn f(x: f32[N, N * 2]) -> f32[N] = sum(x, axis=1)",
    "dense_zero_units": "model M(x: f32[N, 2]) -> f32[N, 0] {\n    return x |> Dense(0)\n}",
    "dense_negative_units": "model M(x: f32[N, 2]) -> f32[N, 1] {\n    return x |> Dense(-1)\n}",
    "dense_huge_units": "model M(x: f32[N, 2]) -> f32[N, 1] {\n"
                        "    return x |> Dense(100000000000000000000)\n}",
    "dense_float_units": "model M(x: f32[N, 2]) -> f32[N, 1] {\n    return x |> Dense(2.5)\n}",
    "dense_string_units": "model M(x: f32[N, 2]) -> f32[N, 1] {\n    return x |> Dense(\"a\")\n}",
    "dense_activation_number": "model M(x: f32[N, 2]) -> f32[N, 1] {\n"
                               "    return x |> Dense(1, activation=3)\n}",
    "dense_activation_layer": "model M(x: f32[N, 2]) -> f32[N, 1] {\n"
                              "    return x |> Dense(1, activation=Dense)\n}",
    "dense_rank1": "model M(x: f32[N]) -> f32[N, 1] {\n    return x |> Dense(1)\n}",
    "unknown_dtype": "fn f(x: float32[N]) -> f32[N] = x",
    "unknown_result_dtype": "fn f(x: f32[N]) -> f99[N] = x",
    "unknown_param_dtype": "model M(x: f32[N, 2]) -> f32[N, 2] {\n"
                           "    param W: q8[2] = zeros\n    return x\n}",
    "kind_as_tensor": "fn f(x: int[N]) -> f32[N] = x",
    "unknown_kind": "fn f(x: blob) -> f32[] = x\nfn g(y: f32[]) -> f32[] = f(y)",
    "int_float_mix": "fn f(a: f32[N], b: i32[N]) -> f32[N] = a + b",
    "int_plus_float_literal": "fn f(a: i32[N]) -> i32[N] = a + 2.5",
    "int_tensor_pow": "fn f(a: i32[N]) -> i32[N] = a ** -1",
    "bool_arith": "fn f(a: f32[N]) -> f32[N] = (a > 0) + (a > 1)",
    "bool_literal_arith": "fn f(a: f32[N]) -> f32[N] = a * true",
    "bool_neg": "fn f(a: f32[N]) -> bool[N] = -(a > 0)",
    "bool_exp": "fn f(a: f32[N]) -> f32[N] = exp(a > 0)",
    "bool_matmul": "fn f(a: f32[N, 2]) -> f32[N, 2] = (a > 0) @ (a > 0)",
    "string_arith": "fn f(a: f32[N]) -> f32[N] = a + \"x\"",
    "string_to_relu": "fn f(a: f32[N]) -> f32[N] = relu(\"x\")",
    "string_number_arith": "fn f(a: f32[N]) -> f32[N] = a + (\"x\" * 3)",
    "list_arith": "fn f(a: f32[N]) -> f32[N] = a + [1, 2]",
    "list_plus_list": "fn f(a: f32[N]) -> f32[N] = [1] + [2]",
    "list_to_relu": "fn f(a: f32[N]) -> f32[N] = relu([1, 2])",
    "number_result": "fn f(a: f32[N]) -> f32[N] = 3",
    "constant_overflow": "fn f(a: f32[N]) -> f32[N] = a * (10 ** 10 ** 10)",
    "float_overflow": "fn f(a: f32[N]) -> f32[N] = a * (1e300 * 1e300)",
    "pow_float_overflow": "fn f(a: f32[N]) -> f32[N] = a * (2.5 ** 100000)",
    "negative_pow_fraction": "fn f(a: f32[N]) -> f32[N] = a * ((-8) ** 0.5)",
    "zero_neg_pow": "fn f(a: f32[N]) -> f32[N] = a * (0 ** -1)",
    "modulo_zero": "fn f(a: f32[N]) -> f32[N] = a * (5 % 0)",
    "tensor_modulo": "fn f(a: f32[N]) -> f32[N] = a % 2",
    "compare_numbers": "fn f(a: f32[N]) -> f32[N] = a * (1 < 2)",
    "compare_strings": "fn f(a: f32[N]) -> f32[N] = a * (\"a\" < 2)",
    "symbol_arith": "fn f(a: f32[N]) -> f32[N] = a * shape(a)[0]",
    "huge_float_const": "fn f(a: f32[N]) -> f32[N] = a * 1e400",
    "huge_int_const": "fn f(a: f32[N]) -> f32[N] = a * 100000000000000000000000000000",
    "huge_float_const_i32": "fn f(a: i32[N]) -> i32[N] = a * 1e30",
    "huge_int_const_i32": "fn f(a: i32[N]) -> i32[N] = a * 100000000000000000000000000000",
    "return_wrong_type": "fn f(x: f32[N, 2]) -> f32[N] = x",
    "return_count_mismatch": "fn f(x: f32[N]) -> (f32[N], f32[N]) = x",
    "no_return_fn": "fn f(x: f32[N]) -> f32[N] {\n    y = x\n}",
    "rebind": "fn f(x: f32[N]) -> f32[N] {\n    x = x + 1\n    return x\n}",
    # models
    "model_no_return": "model M(x: f32[N, 2]) -> f32[N, 1] {\n    y = x\n}",
    "model_two_returns": "model M(x: f32[N, 2]) -> f32[N, 1] {\n    return x, x\n}",
    "model_two_results_trained": "model M(x: f32[N, 2]) -> (f32[N, 2], f32[N, 2]) {\n"
                                 "    return x, x\n}\ntrain M {\n" + TRAIN_OK + "}",
    "model_no_inputs": "model M() -> f32[2] {\n    param W: f32[2] = zeros\n    return W\n}",
    "model_untyped_input": "model M(x) -> f32[N, 1] {\n    return x\n}",
    "model_kind_input": "model M(x: int) -> f32[N, 1] {\n    return x\n}",
    "model_returns_layer": "model M(x: f32[N, 2]) {\n    return Dense(3)\n}",
    "model_returns_number": "model M(x: f32[N, 2]) {\n    return 3\n}",
    "model_returns_string": "model M(x: f32[N, 2]) {\n    return \"x\"\n}",
    "two_models": MODEL + "model M2(x: f32[N, 2]) -> f32[N, 2] {\n    return x\n}",
    "param_no_init": "model M(x: f32[N, 2]) -> f32[N, 2] {\n    param W: f32[2]\n    return x\n}",
    "param_bad_init": "model M(x: f32[N, 2]) -> f32[N, 2] {\n"
                      "    param W: f32[2] = relu\n    return x\n}",
    "param_init_string": "model M(x: f32[N, 2]) -> f32[N, 2] {\n"
                         "    param W: f32[2] = \"zeros\"\n    return x\n}",
    "param_init_bad_args": "model M(x: f32[N, 2]) -> f32[N, 2] {\n"
                           "    param W: f32[2] = uniform(\"a\", relu)\n    return x\n}",
    "param_init_missing": "model M(x: f32[N, 2]) -> f32[N, 2] {\n"
                          "    param W: f32[2] = constant\n    return x\n}",
    "param_init_tensor": "model M(x: f32[N, 2]) -> f32[N, 2] {\n"
                         "    param W: f32[2] = x\n    return x\n}",
    "param_int_dtype": "model M(x: f32[N, 2]) -> f32[N, 2] {\n"
                       "    param W: bool[2] = glorot_uniform\n    return x\n}",
    "param_scalar_glorot": "model M(x: f32[N, 2]) -> f32[N, 2] {\n"
                           "    param W: f32[] = glorot_uniform\n    return x\n}",
    "param_zero_glorot": "model M(x: f32[N, 2]) -> f32[N, 2] {\n"
                         "    param W: f32[0, 0] = orthogonal\n    return x\n}",
    "param_duplicate": "model M(x: f32[N, 2]) -> f32[N, 2] {\n    param W: f32[2] = zeros\n"
                       "    param W: f32[3] = zeros\n    return x\n}",
    "layer_no_signature": "layer L() {\n    return 3\n}\nmodel M(x: f32[N, 2]) -> f32[N, 2] {\n"
                          "    return x |> L()\n}",
    "layer_returns_nothing": "layer L() {\n    (x: f32[B, D]) -> f32[B, D]\n    y = x\n}\n"
                             "model M(x: f32[N, 2]) -> f32[N, 2] {\n    return x |> L()\n}",
    "layer_kind_mismatch": "layer L(units: int) {\n    (x: f32[B, D]) -> f32[B, D]\n"
                           "    return x\n}\nmodel M(x: f32[N, 2]) -> f32[N, 2] {\n"
                           "    return x |> L(\"a\")\n}",
    "layer_unknown_kind": "layer L(units: blob) {\n    (x: f32[B, D]) -> f32[B, D]\n"
                          "    return x\n}\nmodel M(x: f32[N, 2]) -> f32[N, 2] {\n"
                          "    return x |> L(1)\n}",
    "layer_tensor_config": "layer L(w: f32[2]) {\n    (x: f32[B, D]) -> f32[B, D]\n"
                           "    return x\n}\nmodel M(x: f32[N, 2]) -> f32[N, 2] {\n"
                           "    return x |> L(1)\n}",
    "layer_config_as_dim": "layer L(units: float) {\n    (x: f32[B, D]) -> f32[B, units]\n"
                           "    param W: f32[D, units] = zeros\n    return x @ W\n}\n"
                           "model M(x: f32[N, 2]) -> f32[N, 2] {\n    return x |> L(2.5)\n}",
    "layer_instance_reused_shapes": "model M(x: f32[N, 2]) -> f32[N, 1] {\n"
                                    "    d = Dense(1)\n    h = x |> d\n    return h |> d\n}",
    "layer_returns_layer": "layer L() {\n    (x: f32[B, D]) -> f32[B, D]\n"
                           "    return Dense\n}\nmodel M(x: f32[N, 2]) -> f32[N, 2] {\n"
                           "    return x |> L()\n}",
    # train blocks
    "train_steps_negative": train_with("steps = -1"),
    "train_batch_zero": train_with("batch_size = 0"),
    "train_metrics_relu": train_with("metrics = relu"),
    "train_metrics_list_relu": train_with("metrics = [relu]"),
    "train_metrics_list_number": train_with("metrics = [3]"),
    "train_metrics_model": train_with("metrics = [M]"),
    "train_loss_dense": MODEL + "train M {\n    data = two_blobs()\n    loss = Dense\n"
                        "    optimizer = sgd\n}",
    "train_loss_number": MODEL + "train M {\n    data = two_blobs()\n    loss = 3\n"
                         "    optimizer = sgd\n}",
    "train_loss_string": MODEL + "train M {\n    data = two_blobs()\n    loss = \"mse\"\n"
                         "    optimizer = sgd\n}",
    "train_loss_string_unknown": MODEL + "train M {\n    data = two_blobs()\n"
                                 "    loss = \"nope\"\n    optimizer = sgd\n}",
    "train_loss_arity": MODEL + "fn l(a) = mean(a)\ntrain M {\n    data = two_blobs()\n"
                        "    loss = l\n    optimizer = sgd\n}",
    "train_loss_non_scalar": MODEL + "fn l(a, b) = a - b\ntrain M {\n    data = two_blobs()\n"
                             "    loss = l\n    optimizer = sgd\n}",
    "train_loss_returns_layer": MODEL + "fn l(a, b) = Dense\ntrain M {\n"
                                "    data = two_blobs()\n    loss = l\n    optimizer = sgd\n}",
    "train_loss_tuple": MODEL + "fn l(a, b) {\n    return mean(a), mean(b)\n}\ntrain M {\n"
                        "    data = two_blobs()\n    loss = l\n    optimizer = sgd\n}",
    "train_loss_grad_alias": MODEL + "fn l = grad(mse)\ntrain M {\n    data = two_blobs()\n"
                             "    loss = l\n    optimizer = sgd\n}",
    "train_optimizer_number": MODEL + "train M {\n    data = two_blobs()\n"
                              "    loss = mse\n    optimizer = 3\n}",
    "train_optimizer_bad_lr": MODEL + "train M {\n    data = two_blobs()\n    loss = mse\n"
                              "    optimizer = SGD(learning_rate=\"fast\")\n}",
    "train_optimizer_negative_lr": MODEL + "train M {\n    data = two_blobs()\n"
                                   "    loss = mse\n    optimizer = SGD(learning_rate=-1)\n}",
    "train_optimizer_momentum_relu": MODEL + "train M {\n    data = two_blobs()\n"
                                     "    loss = mse\n    optimizer = SGD(momentum=relu)\n}",
    "train_optimizer_adam_list": MODEL + "train M {\n    data = two_blobs()\n"
                                 "    loss = mse\n    optimizer = Adam(beta_1=[1])\n}",
    "train_optimizer_string": MODEL + "train M {\n    data = two_blobs()\n"
                              "    loss = mse\n    optimizer = \"adam\"\n}",
    "train_optimizer_string_bad": MODEL + "train M {\n    data = two_blobs()\n"
                                  "    loss = mse\n    optimizer = \"adamm\"\n}",
    "train_data_number": MODEL + "train M {\n    data = 3\n    loss = mse\n    optimizer = sgd\n}",
    "train_data_npz_number": MODEL + "train M {\n    data = npz(3)\n    loss = mse\n"
                             "    optimizer = sgd\n}",
    "train_data_npz_missing": MODEL + "train M {\n    data = npz()\n    loss = mse\n"
                              "    optimizer = sgd\n}",
    "train_data_bare_npz": MODEL + "train M {\n    data = npz\n    loss = mse\n"
                           "    optimizer = sgd\n}",
    "train_data_blobs_bad": MODEL + "train M {\n    data = two_blobs(per_class=-5, seed=\"a\")\n"
                            "    loss = mse\n    optimizer = sgd\n}",
    "train_data_spirals_bad": MODEL + "train M {\n    data = spirals(classes=0)\n"
                              "    loss = mse\n    optimizer = sgd\n}",
    "train_data_unknown_kw": MODEL + "train M {\n    data = two_blobs(nope=1)\n"
                             "    loss = mse\n    optimizer = sgd\n}",
    "train_data_tensor": MODEL + "train M {\n    data = zeros\n    loss = mse\n"
                         "    optimizer = sgd\n}",
    "train_epochs_float": train_with("epochs = 2.5"),
    "train_epochs_huge": train_with("epochs = 100000000000000000000000"),
    "train_epochs_and_steps": train_with("epochs = 2\n    steps = 3"),
    "train_shuffle_number": train_with("shuffle = 3"),
    "train_seed_float": train_with("seed = 1.5"),
    "train_seed_huge": train_with("seed = 100000000000000000000000"),
    "train_validation_split": train_with("validation_split = 2"),
    "train_unknown_setting": train_with("epoch = 2"),
    "train_unsupported_setting": train_with("devices = 2"),
    "train_twice_setting": train_with("loss = mse"),
    "train_setting_undefined": train_with("steps = nope"),
    "train_setting_tensor_op": train_with("steps = relu(3)"),
    "train_missing_everything": MODEL + "train M {\n}",
    "train_names_layer": "layer L() {\n    (x: f32[B, D]) -> f32[B, D]\n    return x\n}\n"
                         "train L {\n" + TRAIN_OK + "}",
    "train_names_fn": "fn f(x) = x\ntrain f {\n" + TRAIN_OK + "}",
    "train_names_builtin": "train relu {\n" + TRAIN_OK + "}",
    "train_names_prelude_layer": "train Dense {\n" + TRAIN_OK + "}",
    "train_names_prelude_fn": "train softmax {\n" + TRAIN_OK + "}",
    "train_names_nothing": "train Nope {\n" + TRAIN_OK + "}",
    "two_train_blocks": MODEL + "train M {\n" + TRAIN_OK + "}\ntrain M {\n" + TRAIN_OK + "}",
    "train_model_with_error": "model M(x: f32[N, 2]) -> f32[N, 1] {\n    return x |> Dense(2)\n}"
                              "\ntrain M {\n" + TRAIN_OK + "}",
    "train_model_two_inputs": "model M(x: f32[N, 2], y: f32[N, 2]) -> f32[N, 2] {\n"
                              "    return x + y\n}\ntrain M {\n" + TRAIN_OK + "}",
    "train_model_no_params": "model M(x: f32[N, 2]) -> f32[N, 2] {\n    return x\n}\n"
                             "train M {\n" + TRAIN_OK + "}",
    "train_model_int_output": "model M(x: f32[N, 2]) -> i32[N] {\n"
                              "    return argmax(x |> Dense(2))\n}\ntrain M {\n" + TRAIN_OK + "}",
    "train_sparse_loss_scalar": "model M(x: f32[N, 2]) -> f32[] {\n"
                                "    return sum(x |> Dense(2))\n}\ntrain M {\n"
                                "    data = two_blobs()\n"
                                "    loss = sparse_categorical_crossentropy\n"
                                "    optimizer = sgd\n}",
    # names and text
    "unicode_identifier": "fn f(x: f32[N]) -> f32[N] = x * π",
    "unicode_name_def": "fn π(x) = x",
    "unicode_string": "import \"ü/π.nn\"",
    "nul_byte": "fn f(x: f32[N]) -> f32[N] = x\0",
    "nul_in_string": "import \"a\0b.nn\"",
    "long_line": "fn f(x: f32[N]) -> f32[N] = x" + " + x" * 25_000,
    "megabyte_string": "import \"" + "a" * 1_000_000 + "\"",
    "megabyte_comment": "# " + "x" * 1_000_000 + "\nfn f(x) = x",
    "megabyte_name": "fn " + "a" * 1_000_000 + "(x) = x",
    "long_pipe_chain": "model M(x: f32[N, 2]) -> f32[N, 2] {\n    return x"
                       + " |> relu" * 3000 + "\n}",
    "many_bindings": "fn f(x: f32[N]) -> f32[N] {\n" + "".join(
        f"    a{i} = {'x' if i == 0 else f'a{i - 1}'} + 1\n" for i in range(3000))
        + "    return a2999\n}",
    "deep_fn_chain": "".join(f"fn f{i}(x) = f{i + 1}(x)\n" for i in range(400))
                     + "fn f400(x) = x\nfn g(x: f32[]) -> f32[] = f0(x)",
    "deep_alias_chain": "".join(f"fn a{i} = a{i + 1}\n" for i in range(400))
                        + "fn a400(x: f32[]) -> f32[] = x",
    "deep_grad_chain": "fn f(x: f32[]) -> f32[] = x * x\n" + "".join(
        f"fn g{i} = grad({'f' if i == 0 else f'g{i - 1}'})\n" for i in range(12)),
    "deep_layer_nesting": "".join(
        f"layer L{i}() {{\n    (x: f32[B, D]) -> f32[B, D]\n    return x |> L{i + 1}()\n}}\n"
        for i in range(100)) + "layer L100() {\n    (x: f32[B, D]) -> f32[B, D]\n    return x\n}\n"
        "model M(x: f32[N, 2]) -> f32[N, 2] {\n    return x |> L0()\n}",
    "import_missing": "import \"does_not_exist.nn\"\n" + MODEL,
    "import_directory": "import \".\"\n" + MODEL,
    "import_directory_slash": "import \"/\"\n" + MODEL,
    "import_itself": "import \"fuzz.nn\"\n" + MODEL,
    "import_empty": "import \"\"\n" + MODEL,
    "import_dev_null": "import \"/dev/null\"\n" + MODEL,
    "import_binary": "import \"/bin/sh\"\n" + MODEL,
    "import_proc": "import \"/proc/self/status\"\n" + MODEL,
    "import_long_path": "import \"" + "a/" * 3000 + "x.nn\"\n" + MODEL,
    "import_nul": "import \"x\\0.nn\"\n" + MODEL,
    "python_keyword_class": "fn class(x) = x\nfn f(x: f32[]) -> f32[] = class(x)",
    "python_keyword_lambda": "fn f(lambda: f32[]) -> f32[] = lambda",
    "python_keyword_names": "fn f(x: f32[]) -> f32[] {\n    def = x\n    None = def\n"
                            "    True = None\n    return True\n}",
    "dunder_import": "fn f(x: f32[]) -> f32[] = __import__(\"os\")",
    "dunder_class_name": "fn f(x: f32[]) -> f32[] = __class__",
    "dunder_define": "fn __init__(x) = x\nfn __class__(x) = x\n"
                     "fn f(x: f32[]) -> f32[] = __class__(__init__(x))",
    "dunder_model": "model __dict__(x: f32[N, 2]) -> f32[N, 1] {\n    return x |> Dense(1)\n}\n"
                    "train __dict__ {\n" + TRAIN_OK + "}",
    "dunder_attribute_chain": "fn f(x: f32[]) -> f32[] = x.__class__.__bases__",
    "param_named_like_builtin": "fn f(relu: f32[]) -> f32[] = relu(relu)",
    "shadow_dense": "fn Dense(x) = x\nmodel M(x: f32[N, 2]) -> f32[N, 2] {\n"
                    "    return x |> Dense(1)\n}",
    "shadow_sgd": MODEL.replace("M(", "sgd(") + "train sgd {\n" + TRAIN_OK + "}",
    "shadow_loss_with_model": "model mse(x: f32[N, 2]) -> f32[N, 1] {\n"
                              "    return x |> Dense(1)\n}\ntrain mse {\n" + TRAIN_OK + "}",
    "dim_named_like_fn": "fn f(x: f32[relu]) -> f32[relu] = x",
    "dim_named_like_model": MODEL + "fn f(x: f32[M]) -> f32[M] = x",
    "dim_named_like_config": "layer L(units: int) {\n    (x: f32[B, units]) -> f32[B, units]\n"
                             "    return x\n}\nmodel M(x: f32[N, 2]) -> f32[N, 2] {\n"
                             "    return x |> L(3)\n}",
    "dim_from_string_config": "layer L(units) {\n    (x: f32[B, D]) -> f32[B, units]\n"
                              "    param W: f32[D, units] = zeros\n    return x @ W\n}\n"
                              "model M(x: f32[N, 2]) -> f32[N, 2] {\n    return x |> L(\"a\")\n}",
    "dim_from_negative_config": "layer L(units) {\n    (x: f32[B, D]) -> f32[B, units]\n"
                                "    param W: f32[D, units] = zeros\n    return x @ W\n}\n"
                                "model M(x: f32[N, 2]) -> f32[N, 2] {\n    return x |> L(-4)\n}",
    "dim_from_bool_config": "layer L(units) {\n    (x: f32[B, D]) -> f32[B, units]\n"
                            "    param W: f32[D, units] = zeros\n    return x @ W\n}\n"
                            "model M(x: f32[N, 2]) -> f32[N, 2] {\n    return x |> L(true)\n}",
    "one_hot_huge_untyped": "fn f(x: i32[N]) = one_hot(x, 10 ** 300)",
    "one_hot_bool_depth": "fn f(x: i32[N]) = one_hot(x, true)",
    "grad_argnums_empty": "fn f(a: f32[], b: f32[]) -> f32[] = a * b\n"
                          "fn g = grad(f, argnums=[])",
    "train_seed_negative": train_with("seed = -1"),
    "data_seed_negative": MODEL + "train M {\n    data = two_blobs(seed=-1)\n"
                          "    loss = mse\n    optimizer = sgd\n}",
    "init_seed_huge": "model M(x: f32[N, 2]) -> f32[N, 2] {\n"
                      "    param W: f32[2] = uniform(seed=1000000000000)\n    return x\n}",
    "constant_squaring": "fn f(a: f32[N]) -> f32[N] {\n    c0 = 10 ** 100\n" + "".join(
        f"    c{i + 1} = c{i} * c{i}\n" for i in range(30)) + "    return a * c30\n}",
    "int_division_huge": "fn f(a: f32[N]) -> f32[N] = a * ((2 ** 1000) / 3)",
    "empty_file": "",
    "only_comment": "# nothing",
    "only_import_of_self": "import \"fuzz.nn\"",
}
