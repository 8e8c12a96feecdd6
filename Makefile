# Two commands: `make run` (set up and run the app locally) and `make test` (set up and run every check).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# checkov (the infra/ policy scan) pins packaging<24, which pytest 9 cannot use: it gets a venv of its own.
CHECKOV_VENV := $(VENV)/checkov

.PHONY: run test bench setup setup-base lint clean

run: setup-base
	$(PY) -m devtools.run

test: setup lint
	$(PY) -m pytest -q

# `make bench ARGS=--full` adds the 10,000-lead burst; `make bench ARGS=--quick` tries things out.
bench: setup-base
	$(PY) -m bench $(ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

# run and bench need the app's venv and Azurite; the checkov venv is only for the tests (infra's policy scan).
setup-base: $(VENV)/.installed node_modules/.installed

setup: setup-base $(CHECKOV_VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(CHECKOV_VENV)/.installed: infra/requirements-checkov.txt | $(VENV)/.installed
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r infra/requirements-checkov.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf $(VENV) node_modules .local .pytest_cache .mypy_cache .ruff_cache
