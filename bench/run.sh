#!/usr/bin/env bash
# Benchmarks against raw Celery: starts PostgreSQL and Redis (scripts/services.sh), one worker
# process (prefork, concurrency ${BENCH_CONCURRENCY:-2}) consuming the raw and the Selinon queues, runs
# bench/bench.py and stops everything. Extra arguments go to bench.py.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --test >/dev/null
source scripts/services.sh
services_start
worker_pid=""
cleanup() {
  [ -n "$worker_pid" ] && kill -TERM "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null || true
  services_stop
}
trap cleanup EXIT
export DATABASE_CONN_MAX_AGE=600
# as deployed: DEBUG off (Django's debug cursor records every query), PostgreSQL with server-side
# binding (the demo settings' default for PostgreSQL)
export DJANGO_DEBUG=0
export SELINON_BENCH_REDIS_URL="$SELINON_TEST_REDIS_URL"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export SELINON_DJANGO_VAR_DIR="$SERVICES_DIR/var"
.venv/bin/python manage.py migrate -v0
.venv/bin/python manage.py selinon_load -n bench/flows/nodes.yaml -f bench/flows/flows >/dev/null
.venv/bin/celery -A demo_project worker -Q bench_tasks,bench_dispatcher -c "${BENCH_CONCURRENCY:-2}" -P prefork \
  -I bench.raw_tasks --without-gossip --without-mingle --without-heartbeat -n bench@%h --loglevel WARNING \
  >"$SERVICES_DIR/worker.log" 2>&1 &
worker_pid=$!
for _ in $(seq 100); do
  .venv/bin/celery -A demo_project inspect ping -d "bench@$(hostname)" -t 0.5 >/dev/null 2>&1 && break
  sleep 0.2
done
.venv/bin/python bench/bench.py "$@"
