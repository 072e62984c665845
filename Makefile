# The two commands of the README: `make run` and `make test`. Everything else is their plumbing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-unit lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -qq --upgrade pip setuptools wheel

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install -qq -e '.[dev,odbc]'
	touch $(STAMP)

install: $(STAMP)

.env:
	cp config/pishkhan.example.env .env

# Starts the sandbox (127.0.0.1:8001), the portal (127.0.0.1:8000) and the worker.
run: install .env
	PISHKHAN_DEMO=$${PISHKHAN_DEMO:-true} $(BIN)/pishkhan run

test: install
	$(BIN)/lint-imports --config setup.cfg
	$(BIN)/pytest -q tests

test-unit: install
	$(BIN)/pytest -q tests/unit

clean:
	rm -rf $(VENV) var *.egg-info
