# Everything the project needs is installed from here; a fresh machine needs only python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/bot run

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench
	$(BIN)/mypy

# The serve benchmark drives load with wrk (Debian's package), installed here when missing.
bench: install
	command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk) || echo "no wrk: the serve benchmark will be skipped"
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var/*.db .pytest_cache .mypy_cache .ruff_cache
