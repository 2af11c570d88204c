#!/usr/bin/env bash
# Starts a throw-away PostgreSQL and Redis on loopback for the test suite.
# Source it: `source scripts/services.sh start` exports DATABASE_URL, CELERY_BROKER_URL,
# SELINON_TEST_REDIS_URL; `services_stop` stops both and removes their data.
set -euo pipefail

_free_port() {
  python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

services_start() {
  SERVICES_DIR=$(mktemp -d /tmp/selinon-services.XXXXXX)
  export SERVICES_DIR
  chmod 755 "$SERVICES_DIR"
  local pg_bin
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
  PG_PORT=$(_free_port)
  REDIS_PORT=$(_free_port)
  export PG_PORT REDIS_PORT
  local run=()
  if [ "$(id -u)" = 0 ]; then
    run=(runuser -u postgres --)
    mkdir -p "$SERVICES_DIR/pg" && chown postgres "$SERVICES_DIR/pg"
  else
    mkdir -p "$SERVICES_DIR/pg"
  fi
  "${run[@]}" "$pg_bin/initdb" -D "$SERVICES_DIR/pg/data" -U selinon --auth=trust -E UTF8 >/dev/null
  "${run[@]}" "$pg_bin/pg_ctl" -D "$SERVICES_DIR/pg/data" -l "$SERVICES_DIR/pg/log" -w \
    -o "-p $PG_PORT -k $SERVICES_DIR/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
  "${run[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U selinon selinon
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$SERVICES_DIR/redis.pid" --logfile "$SERVICES_DIR/redis.log" --dir "$SERVICES_DIR"
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  export DATABASE_URL="postgres://selinon@127.0.0.1:$PG_PORT/selinon"
  export CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
  export SELINON_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/1"
  export SELINON_TEST_PG_BIN="$pg_bin"
  echo "services: PostgreSQL on 127.0.0.1:$PG_PORT, Redis on 127.0.0.1:$REDIS_PORT"
}

services_stop() {
  [ -n "${SERVICES_DIR:-}" ] || return 0
  local pg_bin run=()
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
  [ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
  "${run[@]}" "$pg_bin/pg_ctl" -D "$SERVICES_DIR/pg/data" -m immediate stop >/dev/null 2>&1 || true
  [ -f "$SERVICES_DIR/redis.pid" ] && kill "$(cat "$SERVICES_DIR/redis.pid")" 2>/dev/null || true
  rm -rf "$SERVICES_DIR"
}

if [ "${1:-}" = "start" ]; then
  services_start
fi
