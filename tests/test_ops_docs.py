"""Each op's doc example runs: its `.nn:` line compiles to IR that uses the op, and its
`IR:` line is exactly what the op builds on that IR's operand types.

An op doc shows its example as two lines; the `.nn:` line declares, in a trailing
comment, the type of every name it uses that it does not define:

    .nn:  h = x @ W + b        # x: f32[N, 2], W: f32[2, 1], b: f32[1]
    IR:   %3 = add %2, %1 : f32[N, 1]

The `.nn:` line is compiled (`pipeline.compile_text`) inside a generated `fn` whose
typed parameters are those names (a `model`, for a `param` line), and the op must be
among the compiled nodes. The `IR:` line is then parsed by the IR text parser inside a
function whose arguments have the operand types of that node, so the parser
re-infers the type and rejects one that differs from the printed one; printed back,
the line must be in canonical form (attributes sorted and spelled as the printer
spells them).
"""

from __future__ import annotations

import re

import pytest

from dslc.compiler.ir_text import IRParseError, parse_function, print_function, tokenize
from dslc.compiler.ops.registry import all_ops
from dslc.compiler.pipeline import compile_text

OP_NAMES = sorted(all_ops())

NN_LINE = re.compile(r"^\s*\.nn:\s+(?P<code>[^#\n]*?)\s*(?:#\s*(?P<decls>.*?)\s*)?$", re.M)
# The `IR:` line, and the lines under it that are indented deeper (an op's region).
IR_LINE = re.compile(r"^(?P<indent>\s*)IR:(?P<gap>\s+)(?P<line>%.*?)\s*$"
                     r"(?P<more>(?:\n(?P=indent)\s+\S.*$)*)", re.M)
DECLARATION = re.compile(r"(?P<name>[A-Za-z_]\w*)\s*:\s*(?P<type>\w+\[[^\]]*\])")
ASSIGNED = re.compile(r"^(?P<names>[A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=[^=]")
PARAM = re.compile(r"^param\s+(?P<name>[A-Za-z_]\w*)\s*:")


def example(name):
    """The op's `.nn:` match and `IR:` line; the doc test in test_ops_registry checks
    that both exist."""
    doc = all_ops()[name].doc
    nn, ir = NN_LINE.search(doc), IR_LINE.search(doc)
    assert nn and ir, f"`{name}` doc lacks a `.nn:` or an `IR:` line"
    column = len(ir.group("indent")) + len("IR:") + len(ir.group("gap"))
    more = [line[column:].rstrip() for line in ir.group("more").splitlines() if line]
    return nn, "\n".join([ir.group("line")] + more)


def declarations(text: str | None) -> list[tuple[str, str]]:
    """`x: f32[N, 2], W: f32[2, 1]` -> [("x", "f32[N, 2]"), ("W", "f32[2, 1]")]."""
    return [(m.group("name"), m.group("type")) for m in DECLARATION.finditer(text or "")]


def example_program(code: str, decls) -> str:
    """A program around one `.nn` statement: a `model` for a `param` declaration, else a
    `fn` returning what the statement assigns; the declared names are its parameters."""
    params = ", ".join(f"{name}: {type_}" for name, type_ in decls)
    if param := PARAM.match(code):
        return f"model DocExample({params}) {{\n    {code}\n    return {param['name']}\n}}\n"
    assigned = ASSIGNED.match(code)
    assert assigned, f"the `.nn:` example `{code}` is neither an assignment nor a `param`"
    names = ", ".join(n.strip() for n in assigned["names"].split(","))
    return f"fn doc_example({params}) {{\n    {code}\n    return {names}\n}}\n"


def compiled_nodes(name):
    """The nodes of op `name` in the compiled `.nn:` example, and the program."""
    nn, _ = example(name)
    decls = declarations(nn["decls"])
    program = example_program(nn["code"], decls)
    compilation = compile_text(program, f"doc_of_{name}.nn")
    if not compilation.ok:
        messages = "; ".join(f"{d.code} {d.message}" for d in compilation.diagnostics)
        hint = ("" if decls else "\n(a comment after the example declares the types of "
                "the names it uses: `.nn:  h = x @ W + b    # x: f32[N, 2], W: f32[2, 1], "
                "b: f32[1]`)")
        pytest.fail(f"the `.nn:` example of `{name}` does not compile: {messages}{hint}\n"
                    f"{program}")
    nodes = [node for fn in compilation.module for node in fn.nodes if node.op == name]
    return nodes, program, compilation.module


@pytest.mark.parametrize("name", OP_NAMES)
def test_nn_example_compiles_to_the_op(name):
    nodes, program, module = compiled_nodes(name)
    if not nodes:
        used = sorted({node.op for fn in module for node in fn.nodes})
        pytest.fail(f"the `.nn:` example of `{name}` compiles to IR without `{name}` "
                    f"(ops: {', '.join(used) or 'none'}):\n{program}")


def ir_line_parts(line: str):
    """(result names, op name, operand names) of one printed node."""
    tokens = tokenize(line)
    results = []
    position = 0
    while tokens[position].kind == "value":
        results.append(tokens[position].text)
        position += 2 if tokens[position + 1].text == "," else 1
    assert tokens[position].text == "=", f"`{line}` does not start with `%n = op`"
    op = tokens[position + 1].text
    operands = []
    position += 2
    while tokens[position].kind == "value":
        operands.append(tokens[position].text)
        position += 2 if tokens[position + 1].text == "," else 1
    return results, op, operands


def ir_function(line: str, operand_types, result_type: str) -> str:
    """A function whose arguments are the line's operands, typed, and that returns its
    result: the smallest IR text the parser accepts around one node."""
    results, op, operands = ir_line_parts(line)
    typed: dict[str, str] = {}
    for operand, type_ in zip(operands, operand_types):
        assert typed.setdefault(operand, type_) == type_, (
            f"`{operand}` is used with types `{typed[operand]}` and `{type_}`")
    args = ", ".join(f"{operand}: {type_}" for operand, type_ in typed.items())
    return (f"func @doc({args}) -> ({result_type}) {{\n  {line}\n"
            f"  return {', '.join(results)}\n}}\n")


@pytest.mark.parametrize("name", OP_NAMES)
def test_ir_example_is_what_the_op_builds(name):
    _, line = example(name)
    _, op, operands = ir_line_parts(line)
    assert op == name, f"the `IR:` line of `{name}` shows `{op}`"
    printed_type = line.rsplit(" : ", 1)[-1]
    nodes, program, _ = compiled_nodes(name)
    candidates = [n for n in nodes if len(n.operands) == len(operands)]
    assert candidates, (f"no `{name}` node with {len(operands)} operands in the compiled "
                        f"`.nn:` example, to take the `IR:` line's operand types from:\n"
                        f"{program}")
    node = next((n for n in candidates
                 if ", ".join(str(r.type) for r in n.results) == printed_type), candidates[0])
    text = ir_function(line, [str(v.type) for v in node.operands], printed_type)
    try:
        parsed = parse_function(text)
    except IRParseError as error:
        pytest.fail(f"the `IR:` line of `{name}` is not what `{name}` builds on the "
                    f"operands of its `.nn:` example: {error.message}\n{text}")
    assert canonical(parsed, text) == line, "the `IR:` line is not in canonical form"


def canonical(parsed, text) -> str:
    """The parsed node printed by `print_function`, its values renamed back to the
    names the doc gave them (arguments in order of first use, then results)."""
    lines = print_function(parsed).splitlines()
    printed = "\n".join(line[2:] for line in lines[1:-2])  # the node, under its function
    arg_names = re.findall(r"(%\w+):", text.splitlines()[0])
    results, _, _ = ir_line_parts(text.split("\n", 1)[1].strip())
    names = dict(enumerate(arg_names + results))
    return re.sub(r"%(\d+)", lambda m: names[int(m.group(1))], printed)
