# The README's two commands: `make up` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test install lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Run the whole platform locally (DEMO=1 also streams synthetic traffic).
up: install
	$(BIN)/causality up $(if $(DEMO),--demo,)

## Lint, then the full test suite (real NATS, PostgreSQL, Ray; started by the fixtures).
test: install lint
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.sink

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
