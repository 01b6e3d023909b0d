"""Fuzzing in the suite, briefly (`make fuzz` runs it at length): the kept corpus and
every crash ever found pass the front end; atheris mutates the corpus for a few seconds
and Hypothesis compiles programs drawn from the grammar, with no exception and no
internal error."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.extra.lark import from_lark

from dslc.dsl.parser import get_plain_lark

FUZZ = Path(__file__).resolve().parent / "fuzz"
sys.path.insert(0, str(FUZZ))
import target  # noqa: E402

KEPT = sorted((FUZZ / "corpus").glob("*")) + sorted((FUZZ / "crashes").glob("*"))


def test_the_kept_corpus_is_not_empty():
    assert len(KEPT) > 100


@pytest.mark.parametrize("path", KEPT, ids=lambda p: p.name)
def test_kept_inputs_pass_the_front_end(path):
    target.check_bytes(path.read_bytes())


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(from_lark(get_plain_lark()))
def test_programs_from_the_grammar_compile_or_are_diagnosed(text):
    target.check_text(text)


def test_atheris_finds_no_crash_in_a_short_run(tmp_path):
    """4,000 inputs from a fixed seed: the same inputs on every machine, so the suite
    does not pass or fail by chance; `make fuzz` explores at random."""
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    shutil.copytree(FUZZ / "corpus", corpus)
    result = subprocess.run(
        [sys.executable, str(FUZZ / "run.py"), "--engine", "atheris", "--runs", "4000",
         "--seed", "1", "--corpus", str(corpus), "--crashes", str(tmp_path / "crashes")],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    tried = int(result.stdout.split("atheris: ")[1].split()[0])
    assert tried >= 4000, result.stdout
