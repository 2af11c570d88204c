#!/usr/bin/env bash
# The run page of a 1,000-node run and one live update of it, on 100,000 runs / 1,000,000 node
# runs (bench/run_page.py): with DATABASE_URL set it uses that PostgreSQL database (its run tables
# are emptied and refilled!), otherwise it starts a throw-away PostgreSQL (scripts/services.sh) and
# stops it afterwards. Extra arguments go to run_page.py (--runs, --nodes-per-run, --repeat, --keep).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${DATABASE_URL:-}" ]; then
  bash scripts/bootstrap.sh --test >/dev/null
  source scripts/services.sh
  services_start
  trap services_stop EXIT
fi
export DJANGO_DEBUG=0
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
.venv/bin/python bench/run_page.py "$@"
