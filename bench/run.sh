#!/usr/bin/env bash
# Benchmarks against raw Celery and DBOS: starts PostgreSQL and Redis (scripts/services.sh), installs
# bench/requirements.txt (DBOS) into .venv, starts one worker of the demo project (prefork,
# concurrency ${BENCH_CONCURRENCY:-2}) consuming the raw and the Selinon queues and one worker of raw
# Celery at its defaults (bench/e2e_raw.py) of the same concurrency, runs bench/bench.py (which starts
# and stops the DBOS workers itself) and stops everything. Extra arguments go to bench.py.
#
# The demo project runs with its shipped settings, exactly what a user copies: nothing here tunes it
# (no DATABASE_CONN_MAX_AGE, DJANGO_DEBUG or SELINON_* variables; the workers are started as the
# deployment guide starts them). Only the service URLs and the bench's own Redis database are set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --test >/dev/null
stamp=.venv/.bench-requirements.sha256
sum=$(sha256sum bench/requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
  .venv/bin/pip install -q -r bench/requirements.txt
  echo "$sum" > "$stamp"
fi
source scripts/services.sh
services_start
worker_pid=""
e2e_pid=""
cleanup() {
  for pid in $worker_pid $e2e_pid; do
    kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  services_stop
}
trap cleanup EXIT
export BENCH_CONCURRENCY="${BENCH_CONCURRENCY:-2}"
export SELINON_BENCH_REDIS_URL="$SELINON_TEST_REDIS_URL"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export SELINON_DJANGO_VAR_DIR="$SERVICES_DIR/var"
.venv/bin/python manage.py migrate -v0
.venv/bin/python manage.py selinon_load -n bench/flows/nodes.yaml -f bench/flows/flows >/dev/null
.venv/bin/celery -A demo_project worker -Q bench_tasks,bench_dispatcher -c "$BENCH_CONCURRENCY" \
  -I bench.raw_tasks -n bench@%h --loglevel WARNING >"$SERVICES_DIR/worker.log" 2>&1 &
worker_pid=$!
.venv/bin/celery -A bench.e2e_raw worker -c "$BENCH_CONCURRENCY" -n e2e@%h --loglevel WARNING \
  >"$SERVICES_DIR/e2e-worker.log" 2>&1 &
e2e_pid=$!
for name in bench e2e; do
  for _ in $(seq 100); do
    .venv/bin/celery -A demo_project inspect ping -d "$name@$(hostname)" -t 0.5 >/dev/null 2>&1 && break
    sleep 0.2
  done
done
.venv/bin/python bench/bench.py "$@"
