# One command per verb. `make demo` and `make test` create .venv and install on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo serve test check lint bench clean venv

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)  ## JOJ Dakar 2026 demo at http://127.0.0.1:8000 (SQLite, in-process broker)
	$(BIN)/teranga demo

serve: $(STAMP)
	$(BIN)/teranga serve

check: $(STAMP)  ## lint, format, types, import contracts
	bash scripts/check.sh

test: $(STAMP)  ## every check and test (SQLite, PostgreSQL, NATS, Chromium)
	bash scripts/test.sh

bench: $(STAMP)
	@ls bench/*.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
