# tagservice: `make run` to try it, `make test` to prove it. `make help` lists targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help install run test test-long lint audit bench clean vendor-js

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/.installed: setup.cfg pyproject.toml scripts/system-deps.sh
	scripts/system-deps.sh base
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,redis]'
	touch $@

install: $(BIN)/.installed ## create .venv and install tagservice with its test tools

run: install ## start the service on http://127.0.0.1:8000 with a demo clinician and tag
	$(BIN)/tagservice init
	$(BIN)/tagservice demo
	@# the access log leaves out the path: a /T/ path carries the (encrypted) tag
	$(BIN)/gunicorn --bind $(HOST):$(PORT) --workers 2 --access-logfile - \
		--access-logformat '%(h)s %(m)s %(s)s %(B)sB %(M)sms' wsgi:app

lint: install ## ruff
	$(BIN)/ruff check .

audit: install ## check the installed dependencies for known vulnerabilities (pip-audit)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,audit]'
	$(BIN)/python scripts/audit_dependencies.py

tests/browser/node_modules/.installed: tests/browser/package.json
	npm install --prefix tests/browser --no-audit --no-fund --silent
	touch $@

test: install lint tests/browser/node_modules/.installed ## lint and run every test (PostgreSQL too when TAGSERVICE_TEST_DATABASE_URL is set)
	$(BIN)/pytest

bench: install ## run every benchmark (bounded, < 10 min) and write bench/RESULTS.md
	@command -v wrk >/dev/null || scripts/system-deps.sh bench
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(BIN)/python bench/run_all.py

test-long: install ## long fuzz, fault and load runs (about 35 min; PostgreSQL too when set)
	TAGSERVICE_LONG_TESTS=1 $(BIN)/pytest tests/robustness

vendor-js: ## rebuild the desk page's QR decoder (jsQR) from the npm registry
	npm install --prefix tests/browser --no-audit --no-fund && npm run --prefix tests/browser vendor

clean: ## remove the virtualenv and caches (keeps instance/)
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache *.egg-info
