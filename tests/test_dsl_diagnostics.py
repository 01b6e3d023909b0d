"""Diagnostics: rustc-style rendering, the error-code table, and the golden syntax corpus.

Each `tests/diagnostics/syntax/NAME.nn` is parsed (and, when it parses, resolved with
TEST_BUILTINS); the rendered text must equal `NAME.expected` exactly. Set
DSLC_UPDATE_GOLDENS=1 (or pass --update-goldens where conftest defines it) to rewrite them.
"""

import os
import re
from pathlib import Path

import pytest

from dslc.dsl import CODES, Diagnostic, DiagnosticError, Label, closest, explain, parse, render, render_all, resolve, suggest
from dslc.dsl.source import SourceFile, Span

GOLDEN_DIR = Path(__file__).parent / "diagnostics" / "syntax"
GOLDEN_FILES = sorted(GOLDEN_DIR.glob("*.nn"))
TEST_BUILTINS = {"relu", "softmax", "identity", "zeros", "random_normal", "uniform", "Dense", "sum", "npz", "grad"}

ALL_CODES = (
    "E0001 E0002 E0003 E0004 E0005 E0006 E0101 E0102 E0103 E0104 "
    "E0201 E0202 E0203 E0204 E0205 E0206 E0207 E0208 E0209 E0210 "
    "E0301 E0302 E0303 E0304 E0305 E0401 E0402 E0403 E0404 E0405 E0406 E0407 "
    "E0501 E0502 E0601 E0900"
).split()

MODEL = """\
model M(x: f32[N, 3]) -> f32[N, 1] {
    param W: f32[2, 1] = uniform(0, 1)
    param b: f32[1] = zeros
    return x @ W + b
}
"""


def update_goldens(request) -> bool:
    if os.environ.get("DSLC_UPDATE_GOLDENS") == "1":
        return True
    try:
        return bool(request.config.getoption("--update-goldens"))
    except ValueError:
        return False


def diagnose_file(path: Path) -> str:
    result = parse(path.read_text(encoding="utf-8"), path.name)
    diagnostics = result.diagnostics
    if result.module is not None and result.ok:
        diagnostics += resolve(result.module, TEST_BUILTINS)
    return render_all(diagnostics)


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=[p.stem for p in GOLDEN_FILES])
def test_golden_diagnostics(path, request):
    actual = diagnose_file(path)
    expected_path = path.with_suffix(".expected")
    if update_goldens(request):
        expected_path.write_text(actual, encoding="utf-8")
    assert actual == expected_path.read_text(encoding="utf-8")


def test_corpus_covers_every_front_end_code():
    raised = set()
    for path in GOLDEN_FILES:
        raised |= set(re.findall(r"^error\[(E\d{4})\]", diagnose_file(path), re.MULTILINE))
    assert {"E0001", "E0002", "E0003", "E0004", "E0005", "E0101", "E0102", "E0103", "E0104", "E0405"} <= raised
    for path in GOLDEN_FILES:
        code = path.stem.split("_")[0]
        if code.startswith("E"):
            assert f"error[{code}]" in diagnose_file(path), path.name


def test_render_matches_rustc_layout():
    source = SourceFile("model.nn", MODEL)
    offset = MODEL.index("x @ W")
    w_type = MODEL.index("f32[2, 1]")
    diag = Diagnostic(
        "E0203",
        "`matmul` inner dimensions differ: `[N, 3]` and `[2, 1]`",
        Span(source, offset, offset + 5),
        label="cannot multiply `f32[N, 3]` by `f32[2, 1]`",
        secondary=(Label(Span(source, w_type, w_type + 9), "`W` is `f32[2, 1]`"),),
        notes=("the last dim of the left operand must equal the first dim of the right one",),
        help="change `W` to `f32[3, 1]`",
    )
    assert render(diag) == (
        "error[E0203]: `matmul` inner dimensions differ: `[N, 3]` and `[2, 1]`\n"
        " --> model.nn:4:12\n"
        "  |\n"
        "2 |     param W: f32[2, 1] = uniform(0, 1)\n"
        "  |              --------- `W` is `f32[2, 1]`\n"
        "4 |     return x @ W + b\n"
        "  |            ^^^^^ cannot multiply `f32[N, 3]` by `f32[2, 1]`\n"
        "  |\n"
        "  = note: the last dim of the left operand must equal the first dim of the right one\n"
        "  = help: change `W` to `f32[3, 1]`"
    )


def test_render_other_file_multiline_span_and_wide_gutter():
    text = "\n" * 11 + "fn f(x) = g(x,\n    x)\n"
    source = SourceFile("main.nn", text)
    other = SourceFile("layers.nn", "\tfn g(a, b) = a\n")
    start = text.index("g(x")
    diag = Diagnostic(
        "E0301",
        "wrong number of arguments",
        Span(source, start, len(text) - 1),
        secondary=(Label(Span(other, 1, 15), "`g` defined here"),),
    )
    assert render(diag) == (
        "error[E0301]: wrong number of arguments\n"
        "  --> main.nn:12:11\n"
        "   |\n"
        "12 | fn f(x) = g(x,\n"
        "   |           ^^^^\n"
        "  ::: layers.nn:1:2\n"
        "   |\n"
        " 1 |     fn g(a, b) = a\n"
        "   |     -------------- `g` defined here"
    )


def test_render_all_summary_and_diagnostic_error():
    source = SourceFile("model.nn", "x")
    diags = [Diagnostic("E0101", "cannot find `x` in this scope", Span(source, 0, 1))] * 2
    text = render_all(diags)
    assert text.endswith("\n\nerror: could not compile `model.nn` due to 2 previous errors\n")
    assert render_all(diags[:1]).endswith("due to 1 previous error\n")
    assert render_all([]) == ""
    error = DiagnosticError(diags)
    assert error.diagnostics == tuple(diags) and "E0101" in str(error)


def test_codes_table_and_explain():
    assert set(ALL_CODES) <= set(CODES)
    for code in ALL_CODES:
        title, text = CODES[code]
        assert title and "Erroneous example" in text and "Corrected" in text
        assert explain(code).startswith(f"{code}: {title}")
    assert explain("e0101") is not None and explain("E9999") is None


def test_suggest():
    assert suggest("relo", ["relu", "softmax"]) == "a name with a similar name exists: `relu`"
    assert suggest("Dens", ["Dense"], kind="layer") == "a layer with a similar name exists: `Dense`"
    assert suggest("zzz", ["relu"]) is None
    assert closest("SGD", ["sgd", "adam"]) == "sgd"
    assert closest("x", ["x"]) is None


def test_syntax_error_points_at_the_offending_token():
    result = parse("fn f(x) = g(x,, 1)", "t.nn")
    (diag,) = result.diagnostics
    assert diag.code == "E0001" and diag.message == "unexpected token `,`"
    assert (diag.span.line, diag.span.col, diag.span.end_col) == (1, 15, 16)
    assert diag.help == "expected one of: expression, `)`"


def test_several_syntax_errors_are_reported():
    text = "fn a(x) = x +\nfn b(x) = )\nfn c(x) = x\nfn d = $\n"
    codes = [d.code for d in parse(text).diagnostics]
    assert codes == ["E0001", "E0001", "E0002"]


def test_post_parse_checks():
    result = parse('fn f = g(k=1, 2)')
    assert [d.message for d in result.diagnostics] == ["positional argument follows keyword argument"]
    assert result.module is not None and not result.ok
