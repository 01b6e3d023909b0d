"""Deep and large input: the front end answers with a result or a diagnostic, never a RecursionError."""

import pytest

from dslc.dsl import ast, dump, parse, render_all, resolve, walk
from dslc.dsl.builder import MAX_DEPTH
from dslc.dsl.source import SourceFile, Span

N = 10_000


def check(result):
    for diag in result.diagnostics:
        assert 0 <= diag.span.start <= diag.span.end <= len(result.source.text)
        render_all([diag])
    return result


@pytest.mark.parametrize(
    "body",
    ["(" * N + "x" + ")" * N, "f(" * N + "x" + ")" * N, "-" * N + "x", "[" * N + "]" * N, "x" + "[0]" * N, "x" + ".a" * N],
    ids=["parens", "calls", "unary", "lists", "index", "attribute"],
)
def test_deep_nesting_reports_e0004(body):
    result = check(parse(f"fn f(x) = {body}\n", "deep.nn"))
    assert [d.code for d in result.diagnostics] == ["E0004"]
    assert result.module is None and not result.ok
    assert "nested too deeply" in render_all(result.diagnostics)


def test_long_binary_chain_reports_e0004():
    result = check(parse("fn f(x) = " + " + ".join(["x"] * N)))
    assert [d.code for d in result.diagnostics] == ["E0004"]


def test_nesting_at_the_limit_is_accepted():
    result = check(parse("fn f(x) = " + "(" * (MAX_DEPTH - 1) + "x" + ")" * (MAX_DEPTH - 1)))
    assert result.ok


def test_unclosed_deep_nesting_is_a_syntax_error():
    result = check(parse("fn f(x) = " + "(" * N))
    assert [d.code for d in result.diagnostics] == ["E0003"]


def test_ten_thousand_statements():
    body = "".join(f"    v{i} = v{i - 1} + 1\n" for i in range(1, N))
    result = check(parse(f"model M(v0: f32[N]) -> f32[N] {{\n{body}    return v{N - 1}\n}}\n"))
    assert result.ok
    (model,) = result.module.items
    assert len(model.body) == N
    assert resolve(result.module, builtins=()) == ()
    assert sum(1 for _ in walk(result.module)) > 3 * N
    assert dump(result.module).count("\n") > 3 * N


def test_ten_thousand_element_list():
    result = check(parse("fn f = [" + ", ".join(str(i) for i in range(N)) + "]"))
    assert result.ok
    (items,) = [n for n in walk(result.module) if isinstance(n, ast.ListExpr)]
    assert len(items.items) == N and items.items[-1].value == N - 1
    assert len(dump(result.module).splitlines()) == N + 4


def test_ten_thousand_definitions_and_errors():
    text = "".join(f"fn f{i}(x) = x +\n" for i in range(N))
    result = check(parse(text))
    assert 1 <= len(result.diagnostics) <= 11


def test_walk_and_dump_on_hand_built_deep_tree():
    source = SourceFile("deep.nn", "x")
    span = Span(source, 0, 1)
    node = ast.Name("x", span)
    for _ in range(N):
        node = ast.UnaryOp("-", node, span)
    assert sum(1 for _ in walk(node)) == N + 1
    assert dump(node).count("\n") == N
