"""The VS Code TextMate grammar, run in the engine VS Code uses (vscode-textmate, via
vscode-tmgrammar-test and -snap): it is generated from the vocabulary, its scope
assertions hold on every example, its snapshots match, and every keyword is scoped."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import EXAMPLES, ROOT
from dslc.compiler.editor import textmate, vocabulary
from dslc.dsl.parser import get_plain_lark

EXTENSION = ROOT / "compiler" / "editor" / "vscode"
GRAMMAR = EXTENSION / "syntaxes" / "dslc.tmLanguage.json"
ASSERTIONS = ROOT / "tests" / "editors"
SNAPSHOTS = ASSERTIONS / "snapshots"
PRELUDE = sorted((ROOT / "compiler" / "prelude").glob("*.nn"))
SNAPSHOT_INPUTS = {**{path.name: path for path in EXAMPLES},
                   **{f"prelude-{path.name}": path for path in PRELUDE}}
ASSERTION_LINE = re.compile(r"^#\s*(\^|<~*-)")
KEYWORD_SCOPE = re.compile(r"^(keyword|storage|constant\.language)\.")


def node_tool(name: str) -> Path:
    tool = EXTENSION / "node_modules" / ".bin" / name
    if not tool.exists():
        pytest.fail(f"{tool.relative_to(ROOT)} is missing: run `make test` (or `npm ci` in "
                    f"{EXTENSION.relative_to(ROOT)}) to install the editor test tools")
    return tool


def run_tool(name: str, *args: str, cwd: Path = EXTENSION) -> subprocess.CompletedProcess:
    return subprocess.run([str(node_tool(name)), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_committed_grammar_is_generated_from_the_vocabulary():
    assert GRAMMAR.read_text(encoding="utf-8") == textmate.textmate_json(), (
        "the TextMate grammar is out of step with the compiler: run "
        "`python -m dslc.compiler.editor.textmate` and commit the result")


def test_grammar_alternations_name_every_keyword_and_builtin():
    text = GRAMMAR.read_text(encoding="utf-8")
    for word in vocabulary.keywords():
        assert rf"\\b{word}\\b" in text
    for name in vocabulary.builtin_kind():
        assert re.search(rf"[|:(]{name}[|)]", text), name
    for op in ("@", "|>", "->", "**"):
        assert json.dumps(re.escape(op))[1:-1] in text


@pytest.mark.parametrize("words, message", [
    (("while",), "'while'"),        # a new keyword must be given a role
    ((), "<<kw:layer>>"),           # a keyword the template names must still exist
])
def test_generator_fails_when_the_grammar_changes_under_it(monkeypatch, words, message):
    vocabulary.builtins()  # cached before the patch, which must not leak into it
    keywords = tuple(w for w in vocabulary.keywords() if words or w != "layer") + words
    monkeypatch.setattr(vocabulary, "keywords", lambda: keywords)
    vocabulary.keyword_roles.cache_clear()
    try:
        with pytest.raises(LookupError, match=re.escape(message)):
            textmate.textmate_grammar()
    finally:
        vocabulary.keyword_roles.cache_clear()


def test_extension_manifest_points_at_the_grammar():
    manifest = json.loads((EXTENSION / "package.json").read_text())
    grammar = json.loads(GRAMMAR.read_text())
    (contributed,) = manifest["contributes"]["grammars"]
    assert contributed["scopeName"] == grammar["scopeName"] == "source.dslc"
    assert (EXTENSION / contributed["path"]).resolve() == GRAMMAR
    assert grammar["fileTypes"] == ["nn"]
    (language,) = manifest["contributes"]["languages"]
    assert language["extensions"] == [".nn"] and language["id"] == contributed["language"]
    config = json.loads((EXTENSION / language["configuration"]).read_text())
    assert config["comments"]["lineComment"] == "#"
    assert ["{", "}"] in config["brackets"]
    assert manifest["activationEvents"] == ["onLanguage:dslc"]


def test_every_example_has_a_scope_assertion_file_that_copies_it():
    for example in EXAMPLES:
        assertion_file = ASSERTIONS / f"{example.stem}.test.nn"
        assert assertion_file.exists(), f"write {assertion_file.relative_to(ROOT)}"
        header, *lines = assertion_file.read_text(encoding="utf-8").splitlines()
        assert header.startswith('# SYNTAX TEST "source.dslc"')
        source = [line for line in lines if not ASSERTION_LINE.match(line)]
        assert source == example.read_text(encoding="utf-8").splitlines(), (
            f"{assertion_file.name} no longer copies {example.name}: update its source lines")
        assert sum(1 for line in lines if ASSERTION_LINE.match(line)) >= 10


def test_scope_assertions_hold():
    result = run_tool("vscode-tmgrammar-test", "--compact", "--grammar", str(GRAMMAR),
                      str(ASSERTIONS / "*.test.nn"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("run successfuly") == len(list(ASSERTIONS.glob("*.test.nn")))


def test_a_wrong_assertion_fails(tmp_path):
    case = tmp_path / "wrong.test.nn"
    case.write_text('# SYNTAX TEST "source.dslc"\nmodel M {}\n# <----- keyword.control.dslc\n')
    result = run_tool("vscode-tmgrammar-test", "--grammar", str(GRAMMAR), str(case))
    assert result.returncode != 0 and "keyword.control.dslc" in result.stdout


def _snapshot_dir(tmp_path: Path) -> Path:
    for name, source in SNAPSHOT_INPUTS.items():
        shutil.copyfile(source, tmp_path / name)
        committed = SNAPSHOTS / f"{name}.snap"
        if committed.exists():
            shutil.copyfile(committed, tmp_path / f"{name}.snap")
    return tmp_path


def test_snapshots_match(tmp_path, update_goldens):
    work = _snapshot_dir(tmp_path)
    missing = [name for name in SNAPSHOT_INPUTS if not (SNAPSHOTS / f"{name}.snap").exists()]
    flags = ["--updateSnapshot"] if update_goldens else []
    result = run_tool("vscode-tmgrammar-snap", *flags, "--grammar", str(GRAMMAR),
                      str(work / "*.nn"))
    if update_goldens or missing:
        SNAPSHOTS.mkdir(parents=True, exist_ok=True)
        for name in SNAPSHOT_INPUTS:
            shutil.copyfile(work / f"{name}.snap", SNAPSHOTS / f"{name}.snap")
        if missing and not update_goldens:
            pytest.fail(f"snapshots {', '.join(missing)} were missing; written now")
    assert result.returncode == 0, (
        "the highlighting of an example changed (run with --update-goldens to accept):\n"
        + result.stdout + result.stderr)
    stale = {p.name for p in SNAPSHOTS.glob("*.snap")} - {f"{n}.snap" for n in SNAPSHOT_INPUTS}
    assert not stale, f"snapshots without an input: {sorted(stale)}"


def snapshot_scopes(snap: Path) -> dict[tuple[int, int], list[str]]:
    """(line, column) -> scopes, 1-based line and 0-based column, from a .snap file."""
    scopes: dict[tuple[int, int], list[str]] = {}
    line = 0
    for row in snap.read_text(encoding="utf-8").splitlines():
        if row.startswith(">"):
            line += 1
        elif match := re.match(r"#( *)(\^+) (.*)", row):
            start = len(match.group(1))
            for column in range(start, start + len(match.group(2))):
                scopes[line, column] = match.group(3).split()
    return scopes


@pytest.mark.parametrize("name", sorted(SNAPSHOT_INPUTS))
def test_every_keyword_is_scoped_as_one(name):
    snap = SNAPSHOTS / f"{name}.snap"
    if not snap.exists():
        pytest.fail(f"{snap.name} is missing: run the snapshot test with --update-goldens")
    scopes = snapshot_scopes(snap)
    text = SNAPSHOT_INPUTS[name].read_text(encoding="utf-8")
    keywords = set(vocabulary.keywords())
    checked = 0
    for token in get_plain_lark().lex(text):
        if token.value in keywords:
            for column in range(token.column - 1, token.end_column - 1):
                token_scopes = scopes.get((token.line, column), [])
                assert any(KEYWORD_SCOPE.match(s) for s in token_scopes), (
                    f"{name}:{token.line}:{token.column}: `{token.value}` has scopes "
                    f"{token_scopes}")
            checked += 1
    assert checked > 0
    assert not any("invalid" in s for ss in scopes.values() for s in ss)
