# Two commands from a fresh clone: `make run` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test deps system-deps test-system-deps node-deps bench fuzz lint clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

deps: $(STAMP)

# Debian packages the service and the tests need (Prosody for the XMPP side).
system-deps:
	@bash scripts/system-deps.sh

test-system-deps:
	@bash scripts/system-deps.sh test

node-deps:
	@bash scripts/node-deps.sh

run: deps system-deps
	$(BIN)/chatbridge serve

test: deps test-system-deps node-deps
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider
	bash scripts/wire-store-tests.sh

bench: deps system-deps
	$(BIN)/python bench/rest.py --write docs/benchmarks.md
	$(BIN)/python bench/xmpp.py --write docs/benchmarks.md
	$(BIN)/python bench/push.py --write docs/benchmarks.md
	$(BIN)/python bench/mam.py --write docs/benchmarks.md
	$(BIN)/python bench/growth.py --write docs/benchmarks.md

# schemathesis against /openapi.json on a live server (not part of `make test`: ~3 minutes)
.venv-fuzz/.installed: requirements-fuzz.lock
	test -x .venv-fuzz/bin/python || $(PY) -m venv .venv-fuzz
	.venv-fuzz/bin/pip install -q --disable-pip-version-check -r requirements-fuzz.lock
	touch .venv-fuzz/.installed

fuzz: deps .venv-fuzz/.installed
	$(BIN)/python scripts/fuzz.py --st .venv-fuzz/bin/st

clean:
	rm -rf $(VENV) .venv-wire .venv-fuzz node_modules var
