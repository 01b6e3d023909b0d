"""Parser tests: the language's example programs parse to the expected AST and spans."""

import logging

import lark
import pytest

from dslc.dsl import ast, dump, parse, walk
from dslc.dsl.parser import get_lark
from dslc.grammar import GRAMMAR_PATH, load_grammar_text

LINEAR = """\
# comment to end of line
import "layers.nn"
model LinearClassifier(x: f32[N, 2]) -> f32[N, 1] {
    param W: f32[2, 1] = uniform(0, 1)
    param b: f32[1] = zeros
    return x @ W + b
}
train LinearClassifier {
    data       = two_blobs(per_class=1000, seed=0)
    loss       = mean_squared_error
    optimizer  = SGD(learning_rate=0.1)
    batch_size = all
    steps      = 40
    metrics    = [binary_accuracy]
}
"""

MLP = """\
layer SimpleDense(units: int, activation = identity) {
    (x: f32[B, in]) -> f32[B, units]
    param W: f32[in, units] = random_normal(stddev=0.05, seed=3)
    param b: f32[units] = zeros
    return activation(x @ W + b)
}
model MLP(x: f32[B, 28, 28]) -> f32[B, 10] {
    return x |> Flatten() |> SimpleDense(512, activation=relu)
             |> Dropout(0.2) |> Dense(10, activation=softmax)
}
"""

FUNCTIONS = """\
fn position(t: f32[]) -> f32[] = 4.9 * t ** 2
fn speed = grad(position)
fn acceleration = grad(speed)
fn softmax(x, axis = -1) {
    e = exp(x - max(x, axis=axis, keepdims=true))
    return e / sum(e, axis=axis, keepdims=true)
}
fn two(x: f32[N]) -> (f32[N], f32[]) {
    return x * 2, sum(x)
}
"""

ENCODER = """\
layer EncoderBlock(heads: int, ff: int) {
    (x: f32[B, T, D]) -> f32[B, T, D]
    a = MultiHeadAttention(heads, key_dim=D / heads)(x, x)
    h = LayerNormalization()(x + a)
    f = h |> Dense(ff, activation=relu) |> Dense(D)
    return LayerNormalization()(h + f)
}
"""

EXAMPLES = {"linear": LINEAR, "mlp": MLP, "functions": FUNCTIONS, "encoder": ENCODER}


def parse_ok(text: str) -> ast.Module:
    result = parse(text, "test.nn")
    assert result.diagnostics == (), [str(d) for d in result.diagnostics]
    assert result.ok
    return result.module


def expr_of(text: str) -> ast.Node:
    module = parse_ok(f"fn f = {text}")
    return module.items[0].body[0].values[0]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_parse(name):
    module = parse_ok(EXAMPLES[name])
    assert all(node.span.source.name == "test.nn" for node in walk(module))
    assert dump(module).startswith("Module @1:1")


def test_all_examples_together_parse():
    module = parse_ok("\n".join(EXAMPLES.values()))
    assert len(module.items) == 3 + 2 + 5 + 1


def test_grammar_has_no_conflicts(caplog):
    with caplog.at_level(logging.DEBUG, logger="lark"):
        lark.Lark(load_grammar_text(), parser="lalr", lexer="basic", debug=True)
    assert not [r for r in caplog.records if "conflict" in r.getMessage().lower()]


def test_grammar_text_is_cached_and_has_no_backslash_d():
    assert load_grammar_text() is load_grammar_text()
    assert GRAMMAR_PATH.name == "dslc.lark"
    assert "\\d" not in load_grammar_text()
    assert get_lark() is get_lark()


def test_linear_classifier_ast_and_spans():
    module = parse_ok(LINEAR)
    imp, model, train = module.items
    assert imp == ast.Import("layers.nn", imp.span)
    assert (imp.span.line, imp.span.col, imp.span.end_line, imp.span.end_col) == (2, 1, 2, 19)
    assert model.name == "LinearClassifier"
    assert (model.name_span.line, model.name_span.col) == (3, 7)
    assert (model.span.line, model.span.col, model.span.end_line, model.span.end_col) == (3, 1, 7, 2)
    (x,) = model.inputs
    assert x.name == "x" and x.default is None
    assert x.annotation.name == "f32"
    assert [type(d).__name__ for d in x.annotation.dims] == ["DimName", "DimInt"]
    assert x.annotation.dims[0].name == "N" and x.annotation.dims[1].value == 2
    assert (x.annotation.span.line, x.annotation.span.col) == (3, 27)
    assert model.outputs[0].dims[1].value == 1
    w, b, ret = model.body
    assert isinstance(w, ast.ParamDecl) and w.name == "W"
    assert (w.span.line, w.span.col, w.name_span.col) == (4, 5, 11)
    assert w.init.func.id == "uniform" and [a.value for a in w.init.args] == [0, 1]
    assert b.init == ast.Name("zeros", b.init.span)
    total = ret.values[0]
    assert isinstance(total, ast.BinOp) and total.op == "+"
    assert total.left.op == "@" and total.left.left.id == "x"
    assert (total.span.line, total.span.col, total.span.end_col) == (6, 12, 21)
    assert (total.op_span.col, total.left.op_span.col) == (18, 14)
    assert train.model == "LinearClassifier" and (train.model_span.line, train.model_span.col) == (8, 7)
    settings = {s.name: s.value for s in train.settings}
    assert list(settings) == ["data", "loss", "optimizer", "batch_size", "steps", "metrics"]
    assert settings["data"].kwargs[0].name == "per_class" and settings["data"].kwargs[0].value.value == 1000
    assert isinstance(settings["optimizer"].kwargs[0].value.value, float)
    assert settings["batch_size"].id == "all" and settings["steps"].value == 40
    assert isinstance(settings["metrics"], ast.ListExpr)
    assert (train.settings[2].name_span.line, train.settings[2].name_span.col) == (11, 5)


def test_layer_signature_and_pipe():
    layer, model = parse_ok(MLP).items
    assert layer.name == "SimpleDense"
    assert [p.name for p in layer.params] == ["units", "activation"]
    assert layer.params[0].annotation == ast.TypeAnn("int", None, layer.params[0].annotation.span)
    assert layer.params[1].annotation is None and layer.params[1].default.id == "identity"
    assert [p.name for p in layer.inputs] == ["x"] and layer.inputs[0].annotation.dims[1].name == "in"
    assert layer.outputs[0].dims[1].name == "units"
    pipe = model.body[0].values[0]
    assert isinstance(pipe, ast.Pipe)
    stages = []
    while isinstance(pipe, ast.Pipe):
        stages.append(pipe.right)
        pipe = pipe.left
    assert pipe.id == "x"
    assert [s.func.id for s in reversed(stages)] == ["Flatten", "SimpleDense", "Dropout", "Dense"]
    dense = stages[0]
    assert (dense.span.line, dense.span.col) == (9, 33)


def test_functions():
    position, speed, acceleration, softmax, two = parse_ok(FUNCTIONS).items
    assert position.params[0].annotation.dims == ()
    assert position.outputs[0].dims == ()
    (ret,) = position.body
    assert isinstance(ret, ast.Return) and ret.values[0].op == "*"
    assert ret.values[0].right.op == "**"
    assert speed.params is None and speed.outputs is None
    assert speed.body[0].values[0].func.id == "grad"
    assert softmax.params[1].default == ast.UnaryOp("-", softmax.params[1].default.operand, softmax.params[1].default.span)
    assign = softmax.body[0]
    assert assign.targets == ("e",) and (assign.target_spans[0].line, assign.target_spans[0].col) == (5, 5)
    assert assign.value.args[0].right.kwargs[1].value == ast.Bool(True, assign.value.args[0].right.kwargs[1].value.span)
    assert len(two.outputs) == 2 and len(two.body[0].values) == 2


def test_encoder_block():
    (layer,) = parse_ok(ENCODER).items
    a, h, f, ret = layer.body
    attention = a.value
    assert isinstance(attention.func, ast.Call) and attention.func.func.id == "MultiHeadAttention"
    key_dim = attention.func.kwargs[0]
    assert key_dim.name == "key_dim" and key_dim.value.op == "/"
    assert (key_dim.name_span.line, key_dim.name_span.col) == (3, 35)
    assert [x.id for x in attention.args] == ["x", "x"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("-x ** 2", "(- (** x 2))"),
        ("2 ** -1", "(** 2 (- 1))"),
        ("a ** b ** c", "(** a (** b c))"),
        ("a - b - c", "(- (- a b) c)"),
        ("a + b * c @ d", "(+ a (@ (* b c) d))"),
        ("a |> f |> g", "(|> (|> a f) g)"),
        ("a + 1 == b", "(== (+ a 1) b)"),
        ("a |> f == g", "(|> a (== f g))"),
        ("(a + b) * c", "(* (+ a b) c)"),
        ("-a.b[0](c)", "(- (call (index (attr a b) 0) c))"),
        ("+x % 3", "(% (+ x) 3)"),
    ],
)
def test_precedence(text, expected):
    assert sexpr(expr_of(text)) == expected


def sexpr(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Number):
        return str(node.value)
    if isinstance(node, (ast.BinOp, ast.Compare)):
        return f"({node.op} {sexpr(node.left)} {sexpr(node.right)})"
    if isinstance(node, ast.Pipe):
        return f"(|> {sexpr(node.left)} {sexpr(node.right)})"
    if isinstance(node, ast.UnaryOp):
        return f"({node.op} {sexpr(node.operand)})"
    if isinstance(node, ast.Call):
        return "(call " + " ".join(sexpr(x) for x in (node.func, *node.args)) + ")"
    if isinstance(node, ast.Index):
        return "(index " + " ".join(sexpr(x) for x in (node.value, *node.indices)) + ")"
    if isinstance(node, ast.Attribute):
        return f"(attr {sexpr(node.value)} {node.name})"
    raise AssertionError(type(node))


def test_literals():
    assert [expr_of(t).value for t in ("1e-3", "0.5", ".5", "1.", "2E+2", "7")] == [1e-3, 0.5, 0.5, 1.0, 200.0, 7]
    assert isinstance(expr_of("7").value, int) and isinstance(expr_of("1.").value, float)
    assert expr_of(r'"a\"b\n\\"').value == 'a"b\n\\'
    assert expr_of("true").value is True and expr_of("false").value is False
    items = expr_of("[a, [1, 2], ]").items
    assert len(items) == 2 and isinstance(items[1], ast.ListExpr)
    assert expr_of("[]").items == ()


def test_slicing():
    index = expr_of("x[0, 1:3, :, ::2, -1]")
    zero, one_three, everything, step, last = index.indices
    assert zero.value == 0
    assert (one_three.start.value, one_three.stop.value, one_three.step) == (1, 3, None)
    assert (everything.start, everything.stop, everything.step) == (None, None, None)
    assert (step.start, step.stop, step.step.value) == (None, None, 2)
    assert isinstance(last, ast.UnaryOp)
    assert (everything.span.col, step.span.col, step.span.end_col) == (18, 21, 24)


def test_calls_with_trailing_comma_and_keywords():
    call = expr_of("f(a, b, k=v,)")
    assert [a.id for a in call.args] == ["a", "b"]
    assert [(k.name, k.value.id) for k in call.kwargs] == [("k", "v")]
    assert expr_of("f()").args == () and expr_of("f()").kwargs == ()


def test_tuple_assignment_and_multiline_statements():
    (fn,) = parse_ok("fn f(x) {\n  a, b = g(\n x)\n  return a,\n b\n}").items
    assign = fn.body[0]
    assert assign.targets == ("a", "b") and [s.col for s in assign.target_spans] == [3, 6]
    assert len(fn.body[1].values) == 2


def test_type_dim_expressions():
    (fn,) = parse_ok("fn f(x: f32[T * D, N + 1, (D / heads)]) -> f32[] = x").items
    dims = fn.params[0].annotation.dims
    assert [d.op for d in dims] == ["*", "+", "/"]
    assert dims[0].left.name == "T" and dims[1].right.value == 1
    assert (dims[2].span.col, dims[2].span.end_col) == (27, 38)


def test_parenthesized_span_covers_parentheses():
    node = expr_of("(a + b)")
    assert isinstance(node, ast.BinOp) and (node.span.col, node.span.end_col) == (8, 15)


def test_layer_without_signature_and_model_without_result():
    layer, model = parse_ok("layer L() { return 1 }\nmodel M(x) { return x }").items
    assert layer.inputs == () and layer.outputs == () and layer.params == ()
    assert model.outputs == ()


def test_empty_and_comment_only_files():
    assert parse_ok("").items == ()
    assert parse_ok("# nothing\n   # here").items == ()


def test_spans_are_one_based_and_tabs_count_one():
    module = parse_ok("\n\tfn f = x")
    fn = module.items[0]
    assert (fn.span.line, fn.span.col) == (2, 2)
    assert str(fn.span) == "test.nn:2:2"


def test_walk_is_preorder():
    fn = parse_ok("fn f = a + b * c").items[0]
    names = [n.id for n in walk(fn) if isinstance(n, ast.Name)]
    assert names == ["a", "b", "c"]
    kinds = [type(n).__name__ for n in walk(fn)]
    assert kinds[:4] == ["FnDef", "Return", "BinOp", "Name"]


def test_nodes_are_frozen_and_hashable():
    node = expr_of("a + 1")
    with pytest.raises(AttributeError):
        node.op = "-"
    assert hash(node) == hash(expr_of("a + 1"))
