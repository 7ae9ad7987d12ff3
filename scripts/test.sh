#!/usr/bin/env bash
# The README's test command (`make test`) runs this: static checks, then every test on
# SQLite, PostgreSQL and NATS (started by the test harness when none runs on loopback)
# and in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/check.sh
bash scripts/ensure-chromium.sh
echo "== pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
echo "== test command took $(( $(date +%s) - start )) s"
