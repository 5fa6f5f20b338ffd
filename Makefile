# rltrack: `make demo` trains a short tracked run and serves it; `make test` runs everything.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# constraints.txt is the tested dependency set: every package at the version the whole suite
# passed with (`make lock` writes it); torch's CPU build lies on the machines' disk.
PIP_FLAGS := -c constraints.txt $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
STAMP := $(VENV)/.installed

.PHONY: install web web-test demo test system-deps lint typecheck pytest bench clean lock

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(PIP_FLAGS) -e '.[dev]'
	@touch $(STAMP)

# The dashboard (web/: TypeScript, React, Vite) is built into the package (src/rltrack/web/),
# which `rltrack serve` serves at /. Stamps: npm ci reruns when the lock changes, the build when
# a web source does.
WEB_DEPS := web/node_modules/.rltrack-installed
WEB_BUILT := src/rltrack/web/.rltrack-built
WEB_SOURCES := $(shell find web -path web/node_modules -prune -o -type f -print 2>/dev/null)

$(WEB_DEPS): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	@touch $(WEB_DEPS)

# The dashboard's API types are generated from the API's OpenAPI document (needs the venv).
API_SOURCES := $(wildcard src/rltrack/api/*.py src/rltrack/api/routes/*.py)

$(WEB_BUILT): $(STAMP) $(WEB_DEPS) $(WEB_SOURCES) $(API_SOURCES)
	cd web && PYTHON=$(CURDIR)/$(PY) npm run gen:api && npm run build
	@touch $(WEB_BUILT)

web: $(WEB_BUILT)

web-test: $(WEB_DEPS)
	cd web && npm test

install: $(STAMP) $(WEB_BUILT)

demo: install
	RLTRACK_HOME=$${RLTRACK_HOME:-./rltrack-data} tools/demo.sh
	@echo
	@echo "The runs are in ./rltrack-data/rltrack.db (SQLite). Look at them with:"
	@echo "  $(VENV)/bin/rltrack runs"
	@echo "  $(VENV)/bin/rltrack show demo-trading-ppo"
	@echo "  $(VENV)/bin/rltrack episodes demo-cartpole-ppo"
	@echo
	@echo "Serving the dashboard with the runs in it at http://127.0.0.1:8000/ (Ctrl-C stops it):"
	RLTRACK_HOME=$${RLTRACK_HOME:-./rltrack-data} $(VENV)/bin/rltrack serve

lint: install
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/ruff format --check src tests bench examples

typecheck: install
	$(VENV)/bin/mypy

# Two workers (pytest-xdist): most tests wait on subprocesses, servers and a browser, so two
# share the CI machine's 2 cores well (the suite took ~17 min serially, ~10 with two workers).
PYTEST_WORKERS ?= 2

pytest: install
	$(PY) -m pytest -q -m "not slow" -n $(PYTEST_WORKERS)

# PostgreSQL and Chromium, which the tests start for real: installed when missing (as root).
system-deps:
	@tools/system-deps.sh

test: system-deps lint typecheck web-test pytest

bench: install
	$(PIP) install -q $(PIP_FLAGS) -e '.[dev,bench]'
	$(PY) bench/tracking_ingest.py
	$(PY) bench/tracking_overhead.py
	$(PY) bench/trading_env.py
	$(PY) bench/trading_agent.py
	$(PY) bench/api_scale.py
	$(PY) bench/dashboard_chart.py
	$(PY) bench/iqn.py
	$(PY) bench/video.py

# Upgrading dependencies is deliberate: `make lock` installs the newest versions that
# pyproject.toml's ranges allow (torch stays at its pin) into a fresh venv, runs the whole
# suite there, and only when it passes writes their exact versions to constraints.txt.
LOCK_VENV := .venv-lock
lock:
	rm -rf $(LOCK_VENV)
	@mkdir -p $(LOCK_VENV)
	grep '^torch==' constraints.txt > $(LOCK_VENV)/torch.txt
	RLTRACK_LOCKING=1 $(MAKE) test VENV=$(LOCK_VENV) PIP_FLAGS="-c $(LOCK_VENV)/torch.txt $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)"
	{ echo "# The tested dependency set: the exact versions \`make test\` passed with (\`make lock\` writes"; \
	  echo "# this file). A CPU build of this torch lies on the machines' disk."; \
	  $(LOCK_VENV)/bin/python -m pip freeze --exclude-editable | sed 's/^torch==\([^+]*\)+.*/torch==\1/'; \
	} > constraints.txt.new
	mv constraints.txt.new constraints.txt
	@echo "constraints.txt updated; review \`git diff constraints.txt\` and commit it"

clean:
	rm -rf $(VENV) $(LOCK_VENV) rltrack-data .pytest_cache .mypy_cache .ruff_cache
