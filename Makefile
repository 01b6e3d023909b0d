# dslc developer tasks. A fresh machine needs only python3 (3.11+), pip and make:
# the first target that needs the virtual environment creates it.

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
VSCODE_EXT := compiler/editor/vscode

.PHONY: run test bench fuzz clean distclean

run: $(VENV)/.stamp
	$(BIN)/dslc train examples/linear_classifier.nn

# The import contracts (pyproject.toml's [tool.importlinter]) first: seconds, not minutes.
test: $(VENV)/.test-stamp $(VSCODE_EXT)/node_modules/.stamp
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n 2

bench: $(VENV)/.test-stamp
	$(BIN)/python bench/run.py

# Fuzzes the front end (atheris, then programs from the grammar) and prints how many
# inputs were tried; a crash is kept in tests/fuzz/crashes as a regression test.
FUZZ_SECONDS ?= 600
fuzz: $(VENV)/.test-stamp
	$(BIN)/python tests/fuzz/run.py --seconds $(FUZZ_SECONDS)

# Re-installs when pyproject.toml changes (dependencies, entry points).
$(VENV)/.stamp: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e .
	touch $@

# Tests and benchmarks also need TensorFlow and PyTorch, for the emitters. torch is pinned
# and installed first: 2.13.0 is the CPU build this machine has on disk, while a bare
# `torch` requirement would download a multi-GB CUDA build; the `torch` extra's range
# then accepts it as installed.
$(VENV)/.test-stamp: $(VENV)/.stamp
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test,tf,torch]'
	touch $@

# The VS Code extension's npm packages (grammar tests, vsce); re-installed when the lock changes.
$(VSCODE_EXT)/node_modules/.stamp: $(VSCODE_EXT)/package-lock.json
	cd $(VSCODE_EXT) && npm ci --no-audit --no-fund
	touch $@

clean:
	rm -rf build dist .pytest_cache .hypothesis out
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
