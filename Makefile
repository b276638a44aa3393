# `make run`: set up .venv if needed, then run the whole pipeline on the embedded synthetic corpus.
# `make test`: set up .venv if needed, then lint, type-check and run the test suite.
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: setup run test lint serve-demo

setup:
	./scripts/bootstrap.sh

run: setup
	$(BIN)/medsum pipeline --run-dir runs/demo

lint: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q -ra
