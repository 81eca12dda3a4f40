# `make run` and `make test` are the two set-up commands on a fresh Debian/Ubuntu with Python 3.11.
PYTHON ?= python3.11
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
# More options of `manage.py run`, e.g. `make run ARGS=--reset-demo-passwords`.
ARGS ?=
BIN := $(VENV)/bin

.PHONY: run test lint system-deps mutation

# The stamps make pip run again only when a requirements file changes.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-deps: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

system-deps:
	bash scripts/install-system-deps.sh

run: $(VENV)/.run-deps
	$(BIN)/python manage.py run --demo --host $(HOST) --port $(PORT) $(ARGS)

test: $(VENV)/.dev-deps system-deps
	$(BIN)/python -m pytest

lint: $(VENV)/.dev-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Mutation testing (docs/testing.md): slow on 2 cores, so not in CI. MUTANTS narrows it, e.g.
# `make mutation MUTANTS='events.rules.*'`. mutmut copies a test file only when mutants/ lacks it:
# drop the copies first, so that edited tests are the ones that run.
MUTANTS ?=
mutation: $(VENV)/.dev-deps
	rm -rf mutants/conftest.py $(wildcard mutants/*/tests)
	$(BIN)/mutmut run --max-children 2 $(MUTANTS)
	$(BIN)/python scripts/mutation_score.py
