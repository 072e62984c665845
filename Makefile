# The two commands of the README: `make run` and `make test`. Everything else is their plumbing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-unit lint install clean system-packages system-packages-test

# The operating system's packages (unixODBC and its drivers, and for the tests a few servers and
# tools): scripts/system-packages.sh installs what is missing, or prints the command to run.
# Quiet and quick when everything is there.
system-packages:
	@PYTHON=$(PYTHON) sh scripts/system-packages.sh runtime

system-packages-test:
	@PYTHON=$(PYTHON) sh scripts/system-packages.sh test

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
run: system-packages install .env
	PISHKHAN_DEMO=$${PISHKHAN_DEMO:-true} $(BIN)/pishkhan run

test: system-packages-test install
	$(BIN)/lint-imports --config setup.cfg
	$(BIN)/pytest -q tests

test-unit: install
	$(BIN)/pytest -q tests/unit

clean:
	rm -rf $(VENV) var *.egg-info
