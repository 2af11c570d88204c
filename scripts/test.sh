#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs, starts PostgreSQL, Redis and
# RabbitMQ on loopback, then runs ruff, mypy and pytest (unit, integration with real Celery workers,
# browser tests in headless Chromium). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --test
source scripts/services.sh
services_start
trap services_stop EXIT

echo "== ruff"; .venv/bin/ruff check .
echo "== mypy"; .venv/bin/mypy
echo "== pytest"
mkdir -p test-output
set +e
.venv/bin/pytest "$@"
status=$?
set -e
exit $status
