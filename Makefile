# fabgrid: the two set-up commands are `make run` and `make test`; both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck unit fuzz bench viewer clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[dev,bench]'
	touch $(BENCH_STAMP)

run: $(STAMP)
	$(VENV)/bin/fabgrid serve --host $(HOST) --port $(PORT)

# ruff, then the layer contracts of docs/architecture.md (import-linter, configured in pyproject.toml)
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/lint-imports --no-logo

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(VENV)/bin/pytest -q

test: lint typecheck unit

# The longer byte-mutation run of part intake (tests/hostile: 5,000 mutated files per target, random seeds)
# and the longer schemathesis run over the OpenAPI (50 valid and 50 invalid requests per operation).
fuzz: $(STAMP)
	FABGRID_FUZZ_EXAMPLES=5000 $(VENV)/bin/pytest -q tests/hostile/test_hostile_fuzz.py -p no:cacheprovider
	FABGRID_OPENAPI_EXAMPLES=50 $(VENV)/bin/pytest -q tests/hostile/test_openapi_fuzz.py -p no:cacheprovider \
	  -o timeout=7200

bench: $(BENCH_STAMP)
	$(PY) -m bench

# Rebuild the bundled three.js viewer (src/fabgrid/web/static/vendor/viewer.js) from npm; needs node.
viewer:
	cd web/viewer && npm ci && npm run build

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
