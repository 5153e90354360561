# Quick start: `make demo` runs two sites side by side; `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo demo-connected test lint install browser axe clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m sitectl demo

# The demo with alpha and beta already connected and mapped (ALPHA with BETA, Active on both).
demo-connected: $(STAMP)
	$(PY) -m sitectl demo-connected

# Browser tests drive Debian's Chromium; install it when missing (as root, via apt-get).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "Chromium is missing: run 'sudo apt-get install -y chromium'"; exit 1; fi; fi
	@if ! command -v docker-compose >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null 2>&1 || true; fi

# The browser tests inject axe-core (from the npm registry, pinned by package-lock.json) into every
# page they visit; without node and npm they cannot run, so say so instead of failing later.
axe: node_modules/axe-core/axe.min.js

node_modules/axe-core/axe.min.js: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is missing: the browser tests need it to install axe-core ('sudo apt-get install -y npm')"; exit 1; }
	npm ci --no-audit --no-fund --silent
	touch $@

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

# On every core, a test file to a worker (its module's live sites started once); `pytest` alone runs serially.
test: $(STAMP) browser axe lint
	$(PY) -m pytest -n auto --dist loadfile

clean:
	rm -rf $(VENV) var artifacts node_modules
