#!/usr/bin/env bash
# Static checks run by `make check` and `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
echo "== ruff check";         $BIN/ruff check src tests bench
echo "== ruff format --check"; $BIN/ruff format --check src tests bench
echo "== mypy --strict src";  $BIN/mypy --strict src/teranga
echo "== import contracts";   $BIN/lint-imports
