# Two entry points for a fresh machine (Python >= 3.11 and make):
#   make demo   sets up .venv and runs `crmpay demo` on the built-in sandbox
#   make test   sets up .venv with the test tools and runs the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/crmpay demo

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

docs: $(VENV)/.installed
	$(BIN)/python scripts/gen_cli_docs.py > docs/cli.md

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/calls.py

clean:
	rm -rf $(VENV) .pytest_cache
