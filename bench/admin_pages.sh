#!/usr/bin/env bash
# The admin pages on 100,000 runs / 1,000,000 node runs (bench/admin_pages.py): with DATABASE_URL
# set it uses that PostgreSQL database (its run tables are emptied and refilled!), otherwise it
# starts a throw-away PostgreSQL (scripts/services.sh) and stops it afterwards. Extra arguments
# go to admin_pages.py (--runs, --nodes-per-run, --repeat, --keep).
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
.venv/bin/python bench/admin_pages.py "$@"
