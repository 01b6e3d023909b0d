"""compiler/editor/vocabulary.py: the editor word lists agree with the compiler they are read
from (the Lark grammar, the prelude, `builtin_globals()`, the train settings), the
scalar annotations it lists compile, and its JSON command prints them."""

from __future__ import annotations

import json
import subprocess
import sys

from dslc.compiler.frontend.builtins import builtin_globals
from dslc.compiler.frontend.train import SETTINGS
from dslc.compiler.initializers import ALIASES as INIT_ALIASES, INITIALIZERS
from dslc.compiler.ir import DTYPES
from dslc.compiler.optimizers import ALIASES as OPT_ALIASES, OPTIMIZERS
from dslc.compiler.schedules import SCHEDULES
from dslc.compiler.pipeline import compile_text
from dslc.dsl.parser import get_plain_lark
from dslc.compiler.editor import vocabulary
from dslc.compiler.data_sources import DATA_SOURCES


def test_keywords_are_the_grammars_word_literals():
    literals = {t.pattern.value for t in get_plain_lark().terminals
                if t.pattern.type == "str"}
    assert set(vocabulary.keywords()) == {w for w in literals if w.isidentifier()}
    assert {"model", "layer", "fn", "train", "param", "return", "import"} <= set(
        vocabulary.keywords())
    assert set(vocabulary.keyword_roles()) == {"declaration", "import", "control", "constant"}


def test_operators_are_the_grammars_punctuation_longest_first():
    ops = vocabulary.operators()
    assert {"@", "**", "|>", "->", "==", "!=", "<=", ">=", "<", ">", "%"} <= set(ops)
    assert not any(op.isidentifier() for op in ops)
    assert ops.index("**") < ops.index("*") and ops.index("->") < ops.index("-")
    assert {op for group in vocabulary.operator_roles().values() for op in group} == set(ops)


def test_builtins_cover_every_compiler_builtin_by_kind():
    kinds = vocabulary.builtins()
    assert tuple(kinds) == vocabulary.BUILTIN_KINDS
    named = {name for names in kinds.values() for name in names}
    assert set(builtin_globals()) <= named
    assert set(INITIALIZERS) | set(INIT_ALIASES) == set(kinds["initializer"])
    assert set(OPTIMIZERS) | set(OPT_ALIASES) == set(kinds["optimizer"])
    assert set(SCHEDULES) == set(kinds["schedule"])
    assert set(DATA_SOURCES) == set(kinds["data"])
    assert set(DTYPES) == set(kinds["dtype"])
    assert "all" in kinds["constant"]
    assert {"exp", "sum", "reshape", "grad", "value_and_grad", "cast"} <= set(kinds["function"])
    assert "Dense" in kinds["layer"] and "softmax" in kinds["activation"]
    assert "mean_squared_error" in kinds["loss"] and "binary_accuracy" in kinds["metric"]
    for names in kinds.values():
        assert list(names) == sorted(names)
    assert not named & set(vocabulary.keywords())


def test_builtin_kind_picks_one_kind_per_name():
    table = vocabulary.builtin_kind()
    assert table["Dense"] == "layer" and table["exp"] == "function"
    # The prelude's `relu` extends the op with Keras' arguments.
    assert table["relu"] == "activation"
    assert table["f32"] == "dtype" and table["SGD"] == "optimizer"
    assert set(table) == {n for names in vocabulary.builtins().values() for n in names}


def test_builtin_docs_give_signature_and_doc_for_every_builtin():
    docs = vocabulary.builtin_docs()
    assert set(docs) == set(vocabulary.builtin_kind())
    assert docs["sum"] == ("sum(x, axis=none, keepdims=false)",
                           "function: Sum over `axis` (all axes by default).")
    assert docs["SGD"][0] == ("SGD(learning_rate=0.01, momentum=0.0, nesterov=false, "
                              "weight_decay=none, clipnorm=none, clipvalue=none, "
                              "global_clipnorm=none)")
    assert docs["sgd"][1].endswith("`sgd` is `SGD`")
    signature, doc = docs["Dense"]
    assert signature == ("Dense(units: int, activation = identity, use_bias: bool = true, "
                         "kernel_initializer = glorot_uniform, bias_initializer = zeros, "
                         "kernel_sharding = none) "
                         "(x: f32) -> f32")
    assert doc.startswith("layer: ")
    assert docs["softmax"][0] == "softmax(x, axis: int = -1)"
    assert all(sig and doc and "\n" not in doc for sig, doc in docs.values())
    assert vocabulary.builtin_docs() is docs


def test_train_settings_and_scalar_types():
    assert set(vocabulary.train_settings()) == set(SETTINGS)
    program = """
layer Scale(factor: float, repeat: int, on: bool, tag: str) {
    (x: f32[B, 2]) -> f32[B, 2]
    return x * factor
}
model M(x: f32[B, 2]) -> f32[B, 2] {
    return x |> Scale(2.0, 1, true, "t")
}
"""
    assert all(f": {scalar}" in program for scalar in vocabulary.SCALAR_TYPES)
    assert not compile_text(program, "scalars.nn", lambda *_: None).diagnostics


def test_token_patterns_are_the_grammars():
    by_name = {t.name: t.pattern.value for t in get_plain_lark().terminals}
    patterns = vocabulary.token_patterns()
    assert patterns["float"] == by_name["FLOAT"] and patterns["name"] == by_name["NAME"]


def test_json_command_prints_everything():
    result = subprocess.run([sys.executable, "-m", "dslc.compiler.editor.vocabulary", "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["keywords"] == list(vocabulary.keywords())
    assert data["builtins"]["layer"] == list(vocabulary.builtins()["layer"])
    assert data["builtin_docs"]["grad"]["signature"] == "grad(f, argnums=0, has_aux=false)"
    assert {"operators", "train_settings", "scalar_types", "token_patterns"} <= set(data)
