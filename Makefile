# Two commands on a fresh clone: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NPM    := $(shell command -v npm 2>/dev/null)

.PHONY: run test lint bench assets clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# GraphiQL's browser assets, pinned in package-lock.json; without npm the page uses the CDN.
node_modules/.package-lock.json: package-lock.json
ifneq ($(NPM),)
	npm ci --no-audit --no-fund --loglevel=error
else
	@echo "npm not found: GraphiQL will load its assets from the CDN"
endif

assets: node_modules/.package-lock.json

run: $(STAMP) assets
	$(BIN)/herald serve --probe-sim

test: $(STAMP) assets
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .import_linter_cache *.egg-info
