"""Property tests: grammar-generated programs parse; mutated and random text never crash."""

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from dslc.dsl import parse, render_all
from dslc.dsl.parser import get_plain_lark

KEYWORDS = {"model", "layer", "fn", "train", "param", "return", "import", "true", "false"}
POST_PARSE_CODES = {"E0004", "E0005", "E0001"}  # E0001 only for "positional argument follows keyword"
FAST = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
# Drawing from the grammar costs ~80 ms per program (parsing it ~1 ms): fewer examples.
GRAMMAR = settings(FAST, max_examples=60)


def padded(strategy):
    return strategy.map(lambda text: f" {text} ")


def explicit_terminals():
    lark = get_plain_lark()
    names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True).filter(lambda n: n not in KEYWORDS)
    explicit = {
        "NAME": padded(names),
        "INT": padded(st.integers(0, 10**6).map(str)),
        "FLOAT": padded(st.sampled_from(["0.5", ".5", "1.", "1e-3", "2.5E+2"])),
        "STRING": padded(st.sampled_from(['"a.nn"', '"x\\n"', '""'])),
        "COMMENT": st.just(" # note\n"),
    }
    for terminal in lark.terminals:
        if terminal.pattern.type == "str":
            explicit[terminal.name] = st.just(f" {terminal.pattern.value} ")
    return explicit


PROGRAMS = from_lark(get_plain_lark(), explicit=explicit_terminals())


def assert_sane(text: str):
    result = parse(text, "fuzz.nn")
    for diag in result.diagnostics:
        assert 0 <= diag.span.start <= diag.span.end <= len(text)
        assert diag.code != "E0900", render_all([diag])
        for label in diag.secondary:
            assert 0 <= label.span.start <= label.span.end <= len(text)
    render_all(result.diagnostics)
    return result


@GRAMMAR
@given(PROGRAMS)
def test_generated_programs_parse(program):
    result = assert_sane(program)
    unexpected = [d for d in result.diagnostics if d.code not in POST_PARSE_CODES]
    assert not unexpected, render_all(unexpected)
    for diag in result.diagnostics:
        if diag.code == "E0001":
            assert diag.message == "positional argument follows keyword argument"


@GRAMMAR
@given(PROGRAMS, st.data())
def test_mutated_programs_never_crash(program, data):
    chars = list(program)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(chars)))
        action = data.draw(st.sampled_from(["delete", "insert", "swap"]))
        if action == "delete" and position < len(chars):
            del chars[position]
        elif action == "insert":
            chars.insert(position, data.draw(st.sampled_from(list("(){}[],:=-+*/@%.|>\"#$;\n") + ["fn", "model", "**"])))
        elif action == "swap" and position + 1 < len(chars):
            chars[position], chars[position + 1] = chars[position + 1], chars[position]
    assert_sane("".join(chars))


@FAST
@given(st.text())
def test_random_text_never_crashes(text):
    assert_sane(text)


@FAST
@given(st.text(alphabet=string.ascii_letters + string.digits + " \n\t(){}[],:=-+*/@%.|>\"#\\_", max_size=200))
def test_random_token_soup_never_crashes(text):
    assert_sane(text)


@pytest.mark.parametrize("text", ["\x00", "\ufeff fn f = x", "fn f = \"\\", "fn f = 1" + "0" * 5000, "fn f = x\r\n"])
def test_odd_inputs(text):
    assert_sane(text)
