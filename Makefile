# Two entry points for a fresh machine (Python >= 3.11 and make):
#   make demo   sets up .venv and runs `crmpay demo` on the built-in sandbox
#   make test   sets up .venv with the test tools and runs the test suite
# `make check` lints, format-checks, type-checks and builds (CI runs it before the tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet -c constraints.txt
CODE := src tests bench scripts

.PHONY: demo test check lint typecheck build docs bench constraints clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e '.[dev]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/crmpay demo

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy src

# into a temporary directory, removed afterwards (concurrent runs do not share it)
build: $(VENV)/.installed-dev
	@out=$$(mktemp -d) && trap 'rm -rf "$$out"' EXIT && \
	  $(BIN)/python -m build --outdir "$$out" . >/dev/null && ls "$$out"

check: lint typecheck build

docs: $(VENV)/.installed
	$(BIN)/python scripts/gen_cli_docs.py > docs/cli.md

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/calls.py

# The exact versions of a fresh `.[dev]` install, for constraints.txt.
constraints:
	rm -rf $(VENV)-constraints
	$(PYTHON) -m venv $(VENV)-constraints
	$(VENV)-constraints/bin/python -m pip install --quiet -e '.[dev]'
	{ sed -n 1,2p constraints.txt; $(VENV)-constraints/bin/python -m pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt
	rm -rf $(VENV)-constraints

clean:
	rm -rf $(VENV) .pytest_cache
