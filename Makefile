# interview-coach: `make run` serves the app, `make test` runs the whole suite. Both create .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1

.DEFAULT_GOAL := all
.PHONY: all install install-dev run test test-fast lint format bench clean system-deps background

all: test lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed  ## create or update .venv with the app

install-dev: $(VENV)/.installed-dev system-deps  ## .venv with dev extras, plus what the tests need from Debian

system-deps:  ## Debian Chromium for browser tests, installed once
	@sh scripts/system-deps.sh

run: install  ## serve the app at http://$(HOST):$(PORT) on the embedded defaults
	$(BIN)/coach serve --host $(HOST) --port $(PORT)

test: install-dev  ## the whole suite (SQLite; PostgreSQL too when COACH_TEST_DATABASE_URL is set)
	$(BIN)/python -m pytest -q

test-fast: install-dev
	$(BIN)/python -m pytest -q -m "not browser and not llm"

lint: install-dev
	$(BIN)/ruff check coach tests bench
	$(BIN)/ruff format --check coach tests bench
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff format coach tests bench
	$(BIN)/ruff check --fix coach tests bench

bench: install-dev
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info

background: install  ## rebuild the shipped background vectors after editing a pack
	$(BIN)/python scripts/build-background.py
