"""The printed IR of every example, compared exactly with `tests/golden/ir/*.ir`; each
golden also parses back to the same text, and the verifier accepts the module after
every stage of the pipeline."""

from __future__ import annotations

import pytest

from dslc.compiler.ir_text import parse_module, print_module
from dslc.compiler.pipeline import STAGES, compile_text
from dslc.compiler.verify import verify_module

from conftest import EXAMPLES, ROOT, check_golden

GOLDEN_IR = ROOT / "tests" / "golden" / "ir"


def compile_example(path, after=None):
    compilation = compile_text(path.read_text(), f"examples/{path.name}", after)
    assert compilation.ok, [str(d) for d in compilation.diagnostics]
    return compilation


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_ir_matches_golden(example, update_goldens):
    module = compile_example(example).module
    check_golden(GOLDEN_IR / f"{example.stem}.ir", print_module(module), update_goldens)


@pytest.mark.parametrize("golden", sorted(GOLDEN_IR.glob("*.ir")), ids=lambda p: p.stem)
def test_golden_round_trips(golden):
    text = golden.read_text()
    assert print_module(parse_module(text, golden.name)) == text


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_verifier_accepts_every_stage(example):
    seen = []

    def after(stage, module):
        verify_module(module)
        seen.append(stage)

    compile_example(example, after)
    assert tuple(seen) == STAGES


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_node_points_back_at_its_source(example):
    module = compile_example(example).module
    for function in module:
        for node in function.nodes:
            # Nodes of prelude functions (losses, softmax) point into the prelude.
            assert (node.loc.file == f"examples/{example.name}"
                    or node.loc.file.startswith("<prelude>/")), node
            assert node.loc.line >= 1 and node.loc.col >= 1


def test_gradient_nodes_say_which_op_they_differentiate():
    module = compile_example(ROOT / "examples" / "linear_classifier.nn").module
    text = print_module(module, print_loc=True)
    assert 'gradient_of "matmul"' in text
    located = [n for n in module.functions["train_step"].nodes if n.loc.gradient_of]
    assert located and all(n.loc.line > 0 for n in located)
