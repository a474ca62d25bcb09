# firstword: `make demo` runs the whole thing on the embedded default; `make test` runs the suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck imports pytest bench serve fmt clean install

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("firstword needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/firstword demo $(DEMO_ARGS)

serve: $(STAMP)
	$(BIN)/firstword serve

lint: $(STAMP)
	$(BIN)/ruff check firstword tests benchmarks scripts
	$(BIN)/ruff format --check firstword tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

# pytest exits 5 when it collects no tests; that must fail loudly, not pass quietly.
pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS); status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$status

test: lint typecheck imports pytest

fmt: $(STAMP)
	$(BIN)/ruff format firstword tests benchmarks scripts
	$(BIN)/ruff check --fix firstword tests benchmarks scripts

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
