# The two commands: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec

.PHONY: venv test test-fast demo demo-traffic bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing errortrail and its test dependencies into $(VENV) ..."
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | { grep -v "is ignored: it is neither" || true; }
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

# Pass 1: everything on SQLite (+ real Redis where it answers). Pass 2: the backend suite on PostgreSQL.
test: venv
	@rm -f .coverage .coverage.*
	$(PY) -m pytest --cov --cov-report= $(PYTEST_ARGS)
	ERRORTRAIL_TEST_DB=postgres $(PY) -m pytest --cov --cov-append --cov-report= -m backends $(PYTEST_ARGS)
	@$(PY) -m coverage combine -q --append 2>/dev/null || true  # subprocess data, if any is left
	$(PY) -m coverage report --fail-under=95

test-fast: venv
	$(PY) -m pytest -x -q -m "not slow" $(PYTEST_ARGS)

demo: venv
	$(PY) demo/run.py

demo-traffic: venv
	$(PY) demo/traffic.py

bench: venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) .coverage .coverage.* htmlcov test-output
