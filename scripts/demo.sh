#!/usr/bin/env bash
# THE DEMO: on a fresh machine with no server installed, runs the demo flow on a real Celery worker.
#   bash scripts/demo.sh
# It creates the venv (scripts/bootstrap.sh), migrates a SQLite database under var/demo/, loads
# the demo flows as a configuration revision, starts one Celery worker process on kombu's
# filesystem transport (a broker that is a folder: no server), runs `demo_main` through it with
# `selinon_run --wait`, prints the run tree and how to look at it in the admin, and stops every
# process it started.
# DEBUG stays off (demo_project/settings.py): nothing here serves web pages, and the admin it
# points to at the end is served by `runserver --insecure`, which needs no DEBUG for static files.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

VAR=${SELINON_DJANGO_VAR_DIR:-$PWD/var/demo}
mkdir -p "$VAR"
export SELINON_DJANGO_VAR_DIR="$VAR"
export DATABASE_URL="sqlite:///$VAR/demo.sqlite3"
export CELERY_BROKER_URL="filesystem://"
# poll the broker folder often: a hop between two tasks should not wait for the poller
export SELINON_BROKER_TRANSPORT_OPTIONS='{"polling_interval": 0.05}'
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=.venv/bin/python

rm -rf "$VAR/broker"  # messages of an earlier, interrupted demo
echo "== migrating $VAR/demo.sqlite3"
$PY manage.py migrate -v0
echo "== loading the demo flows"
$PY manage.py selinon_load -n demo_project/flows/nodes.yaml -f demo_project/flows/flows

queues=$($PY manage.py shell -v0 -c "
from selinon_django.models import ConfigRevision
c = ConfigRevision.objects.current().system_config()
print(','.join(sorted({c.task_queue(t) for t in c.tasks} | {c.dispatcher_queue(f) for f in c.flows})))")

worker_pid=""
cleanup() {
  if [ -n "$worker_pid" ] && kill -0 "$worker_pid" 2>/dev/null; then
    echo "== stopping the worker (pid $worker_pid)"
    kill -TERM "$worker_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$worker_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$worker_pid" 2>/dev/null || kill -KILL "$worker_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT INT TERM

echo "== starting a Celery worker on queues $queues (log: $VAR/worker.log)"
: > "$VAR/worker.log"
setsid .venv/bin/celery -A demo_project worker -Q "$queues" -c 2 -P prefork -n demo@%h \
  --without-gossip --without-mingle --without-heartbeat --loglevel INFO >"$VAR/worker.log" 2>&1 &
worker_pid=$!
for _ in $(seq 300); do
  grep -q " ready\." "$VAR/worker.log" && break
  kill -0 "$worker_pid" 2>/dev/null || { cat "$VAR/worker.log"; echo "the worker exited"; exit 1; }
  sleep 0.1
done
grep -q " ready\." "$VAR/worker.log" || { tail -20 "$VAR/worker.log"; echo "the worker did not start"; exit 1; }

echo "== running demo_main through the worker"
status=0
$PY manage.py selinon_run demo_main \
  --node-args '{"ecosystem": "pypi", "name": "django", "version": "5.2"}' \
  --wait --timeout 300 --report "$VAR/report.json" || status=$?

cat <<MSG

The run tree above is also in $VAR/report.json. Every flow run, node run and trace event is in
the database; to browse them in the admin:
  export DATABASE_URL=$DATABASE_URL SELINON_DJANGO_VAR_DIR=$VAR
  .venv/bin/python manage.py createsuperuser
  .venv/bin/python manage.py runserver --insecure
  then open http://127.0.0.1:8000/admin/selinon_django/
(DEBUG is off: --insecure lets runserver serve the admin's CSS and scripts anyway. The secret key
is $VAR/secret_key, made on first use; set DJANGO_SECRET_KEY to use your own.)
MSG
exit $status
