"""Robustness of the whole front end: on any input, `compile_text` returns (success or
diagnostics with valid spans that render), never raises; the CLI exits 1, never 3.

(a) mutations of the example programs, by hypothesis; (b) a corpus of hand-written
hostile programs, each one a way a user (or an editor mid-keystroke) can go wrong.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dslc.compiler.pipeline import compile_text
from dslc.dsl import CODES, render_all

from conftest import EXAMPLES, run_dslc
from hostile_programs import HOSTILE

USER_CODES = set(CODES) - {"E0900"}


def assert_sane(text: str, path: str = "fuzz.nn"):
    """Compiles `text`; every diagnostic has a known code, spans inside the text, and
    renders. Returns the Compilation."""
    compilation = compile_text(text, path)
    for diag in compilation.diagnostics:
        assert diag.code in USER_CODES, render_all([diag])
        for span in [diag.span] + [label.span for label in diag.secondary]:
            if span.source.name == path:
                assert 0 <= span.start <= span.end <= len(text), (span, render_all([diag]))
    rendered = render_all(compilation.diagnostics)
    if compilation.diagnostics:
        assert re.search(r"--> [^\n]*:\d+:\d+", rendered), rendered
        assert "^" in rendered, rendered
    else:
        assert compilation.module is not None
    return compilation


# (a) Mutated examples --------------------------------------------------------------

SOURCES = [path.read_text(encoding="utf-8") for path in EXAMPLES]
TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?"
                   r"|\|>|->|\*\*|[=!<>]=|\S")
NAMES = ["relu", "Dense", "sum", "grad", "mean", "reshape", "softmax", "x", "W", "b",
         "N", "B", "in", "units", "value_and_grad", "zeros", "SGD", "two_blobs", "f32",
         "i32", "bool", "all", "shape", "Flatten", "Dropout", "identity", "one_hot"]
NUMBERS = ["0", "-1", "1e30", "2.5", "1", "100000000000", "-3"]
LINES = ["    param W: f32[2, 1] = zeros", "    return x", "    return x, x", "return 3",
         "    param q: f32[B, in] = ones", "fn g(x) = g(x)", "    steps = -1",
         "    y = x |> Dense(3)", "    return grad(relu)(x)", "train Nope {", "}", "",
         "fn h = grad(h)", "fn s2 = grad(speed, argnums=[relu])", "    data = npz(3)",
         "    optimizer = SGD(learning_rate=relu)", "    metrics = relu", "    batch_size = 0",
         "    return x[::0]", "    return x ** 10 ** 10 ** 10", 'import "examples"']
DIMS = ["N", "B", "0", "-1", "2", "100000000000", "in", "N, N", "", "N * 2", "3 / 2"]


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 3))):
        text = draw(st.sampled_from([token_mutation, line_mutation, dims_mutation]))(draw, text)
    return text


def token_mutation(draw, text: str) -> str:
    spans = [m.span() for m in TOKEN.finditer(text)]
    if not spans:
        return text
    i = draw(st.integers(0, len(spans) - 1))
    start, end = spans[i]
    word = text[start:end]
    action = draw(st.sampled_from(["delete", "duplicate", "swap", "name", "number"]))
    if action == "delete":
        new = ""
    elif action == "duplicate":
        new = word + " " + word
    elif action == "swap" and i + 1 < len(spans):
        nstart, nend = spans[i + 1]
        return text[:start] + text[nstart:nend] + text[end:nstart] + word + text[nend:]
    elif action == "name" and re.fullmatch(r"[A-Za-z_]\w*", word):
        new = draw(st.sampled_from(NAMES + [t for t in tokens(text) if t[0].isalpha()]))
    elif action == "number" and word[0].isdigit():
        new = draw(st.sampled_from(NUMBERS))
    else:
        new = draw(st.sampled_from(NAMES + NUMBERS))
    return text[:start] + new + text[end:]


def line_mutation(draw, text: str) -> str:
    lines = text.split("\n")
    i = draw(st.integers(0, len(lines) - 1))
    action = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "drop_kw"]))
    if action == "delete":
        del lines[i]
    elif action == "duplicate":
        lines.insert(i, lines[i])
    elif action == "swap" and i + 1 < len(lines):
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    elif action == "insert":
        lines.insert(i, draw(st.sampled_from(LINES)))
    else:
        keyed = [j for j, line in enumerate(lines) if re.search(r"\b(param|return)\b", line)]
        if keyed:
            del lines[draw(st.sampled_from(keyed))]
    return "\n".join(lines)


def dims_mutation(draw, text: str) -> str:
    found = list(re.finditer(r"\[([^\[\]]*)\]", text))
    if not found:
        return text
    match = draw(st.sampled_from(found))
    dims = draw(st.sampled_from(DIMS))
    return text[:match.start(1)] + dims + text[match.end(1):]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated())
def test_mutated_examples_compile_or_diagnose(text):
    assert_sane(text)


# (b) Hostile programs ----------------------------------------------------------------

# The ones also run through the real `dslc` command (one process, to keep it quick).
CLI_CASES = ["fn_self_recursion", "alias_cycle", "grad_non_scalar", "pipe_into_number",
             "train_data_npz_number", "import_directory", "dunder_attribute_chain",
             "huge_param", "nul_byte", "constant_overflow"]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_program_compiles_or_diagnoses(name):
    assert_sane(HOSTILE[name])


def test_hostile_programs_through_the_cli(tmp_path):
    paths = []
    for name in CLI_CASES:
        (tmp_path / f"{name}.nn").write_text(HOSTILE[name], encoding="utf-8")
        paths.append(f"{name}.nn")
    process = run_dslc("check", *paths, cwd=tmp_path, timeout=240)
    assert process.returncode == 1, process.stderr
    assert "Traceback" not in process.stderr and "E0900" not in process.stderr, process.stderr
    for path in paths:
        location = rf"--> {re.escape(path)}:\d+:\d+\n"
        assert re.search(location, process.stderr), (path, process.stderr)


def test_compile_command_reports_instead_of_crashing(tmp_path):
    (tmp_path / "fuzz.nn").write_text(HOSTILE["layer_default_recursion"], encoding="utf-8")
    process = run_dslc("fuzz.nn", cwd=tmp_path, timeout=240)
    assert process.returncode == 1, process.stderr
    assert re.search(r"--> fuzz\.nn:1:13\n", process.stderr), process.stderr
    assert "Traceback" not in process.stderr


# Deep, but within the limits: these must compile, not hit Python's recursion limit.
DEEP_EXPRESSION = "(" * 150 + "x" + ")" * 150
DEEP_BUT_LEGAL = {
    "layers_62_deep": "".join(
        f"layer L{i}() {{\n    (x: f32[B, D]) -> f32[B, D]\n    y = {DEEP_EXPRESSION}\n"
        f"    return y |> L{i + 1}()\n}}\n" for i in range(62))
        + "layer L62() {\n    (x: f32[B, D]) -> f32[B, D]\n    return x\n}\n"
        "model M(x: f32[N, 2]) -> f32[N, 2] {\n    return x |> L0()\n}",
    "fns_62_deep": "".join(f"fn f{i}(x) = f{i + 1}({DEEP_EXPRESSION})\n" for i in range(62))
                   + f"fn f62(x) = {DEEP_EXPRESSION}\nfn g(x: f32[]) -> f32[] = f0(x)",
    "grad_8_deep": "fn f(x: f32[]) -> f32[] = exp(x) * x\n" + "".join(
        f"fn g{i} = grad({'f' if i == 0 else f'g{i - 1}'})\n" for i in range(8)),
    "nested_calls_190": "fn g(x: f32[]) -> f32[] = " + "relu(" * 190 + "x" + ")" * 190,
}


@pytest.mark.parametrize("name", sorted(DEEP_BUT_LEGAL))
def test_deep_but_legal_program_compiles(name):
    compilation = assert_sane(DEEP_BUT_LEGAL[name])
    assert compilation.ok, render_all(compilation.diagnostics)


IMPORTED = {
    "a.nn": 'import "b.nn"\nfn fa(x) = x\n',
    "b.nn": 'import "a.nn"\nfn fb(x) = x\n',
    "broken.nn": "fn broken(x) =\n",
    "latin1.nn": "caf\xe9 = 1\n",
    "lib.nn": "layer Dense() {\n    (x: f32[B, D]) -> f32[B, D]\n    return x\n}\n",
}
MAIN = "model M(x: f32[N, 2]) -> f32[N, 2] {\n    return x |> Dense()\n}\n"


@pytest.mark.parametrize("imports, code", [
    ('import "a.nn"', "E0502"), ('import "broken.nn"', "E0003"),
    ('import "latin1.nn"', "E0501"), ('import "main.nn"', "E0502"),
    ('import "lib.nn"\nimport "lib.nn"', None), ('import "sub"', "E0501"),
])
def test_imports_from_disk(tmp_path, imports, code):
    for name, text in IMPORTED.items():
        (tmp_path / name).write_bytes(text.encode("latin-1"))
    (tmp_path / "sub").mkdir()
    main = tmp_path / "main.nn"
    main.write_text(f"{imports}\n{MAIN}", encoding="utf-8")
    compilation = compile_text(main.read_text(encoding="utf-8"), str(main))
    codes = {d.code for d in compilation.diagnostics}
    assert codes == ({code} if code else set()), render_all(compilation.diagnostics)
    render_all(compilation.diagnostics)
