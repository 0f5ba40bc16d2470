# Two entry points for a fresh machine (Python 3.11 and nothing else installed):
#   make run   — create .venv, install, compile the catalog, run the flagship example and its simulation
#   make test  — create .venv if missing, install Chromium if missing (apt), run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint docs bench clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,sim,sign,columnar,serve,bus,distributed]'
	touch $(STAMP)

run: $(STAMP)
	mkdir -p build
	SOURCE_DATE_EPOCH=0 $(BIN)/ballast compile catalog/motb.bal -o build/motb.bundle.json
	@# The sample ends with two malformed events on purpose: eval reports them and exits 1.
	@# The bundle is not signed: this is development (docs/security.md signs one).
	$(BIN)/ballast eval build/motb.bundle.json --events catalog/events.jsonl --format text --allow-unsigned; test $$? -le 1
	$(BIN)/ballast simulate catalog/scenarios/load-risk-spike.scenario.yaml --format html -o build/load-risk-spike.html
	$(BIN)/ballast simulate catalog/scenarios/load-risk-spike.scenario.yaml

test: $(STAMP) browser
	$(BIN)/python -m pytest

# The report tests open a rendered page in headless Chromium (tests/simulator/test_reports.py). Install it
# with apt when it is missing: as root on CI, through sudo on a workstation.
# BALLAST_SKIP_BROWSER=1 skips both the install and that test.
browser:
	@if [ "$$BALLAST_SKIP_BROWSER" = 1 ] || command -v chromium >/dev/null 2>&1 \
		|| command -v chromium-browser >/dev/null 2>&1; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "make: Chromium is missing and there is no apt-get here: install Chromium yourself," \
			"or run 'BALLAST_SKIP_BROWSER=1 make test' to skip the browser test" >&2; exit 1; \
	fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; \
	elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	else echo "make: Chromium is missing and installing it needs root (no sudo here): run" \
		"'apt-get install chromium' as root, or 'BALLAST_SKIP_BROWSER=1 make test' to skip the browser test" >&2; exit 1; \
	fi; \
	echo "make: installing Chromium for the report tests"; \
	$$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
		|| { echo "make: could not install Chromium: install it yourself, or set BALLAST_SKIP_BROWSER=1" >&2; exit 1; }

lint: $(STAMP)
	$(BIN)/ruff check .

docs: $(STAMP)
	$(BIN)/mkdocs build --strict

bench: $(STAMP)
	$(BIN)/python -m bench.spine

clean:
	rm -rf build site .pytest_cache
