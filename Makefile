# Two entry points for a fresh machine (Python 3.11 and nothing else installed):
#   make run   — create .venv, install, compile the catalog, run the flagship example
#   make test  — create .venv if missing, run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,sim,sign]'
	touch $(STAMP)

run: $(STAMP)
	mkdir -p build
	SOURCE_DATE_EPOCH=0 $(BIN)/ballast compile catalog/motb.bal -o build/motb.bundle.json
	@# The sample ends with two malformed events on purpose: eval reports them and exits 1.
	$(BIN)/ballast eval build/motb.bundle.json --events catalog/events.jsonl --format text; test $$? -le 1

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

docs: $(STAMP)
	$(BIN)/mkdocs build --strict

bench: $(STAMP)
	$(BIN)/python -m bench.spine

clean:
	rm -rf build site .pytest_cache
