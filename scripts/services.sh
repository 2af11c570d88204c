#!/usr/bin/env bash
# Starts a throw-away PostgreSQL, Redis and RabbitMQ on loopback for the test suite.
# Source it: `source scripts/services.sh start` exports DATABASE_URL, CELERY_BROKER_URL,
# SELINON_TEST_REDIS_URL, SELINON_TEST_AMQP_URL; `services_stop` stops them and removes their data.
# The RabbitMQ node is the tests' own: its own AMQP, Erlang distribution and epmd ports, cookie and
# data directory, so it neither meets nor disturbs a RabbitMQ of the machine. Its scripts in
# $SERVICES_DIR/rabbitmq (start, stop, run rabbitmqctl ...) are what the tests' broker restart calls.
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
  _rabbitmq_start
  echo "services: PostgreSQL on 127.0.0.1:$PG_PORT, Redis on 127.0.0.1:$REDIS_PORT, RabbitMQ on 127.0.0.1:$AMQP_PORT"
}

# Writes the RabbitMQ node's configuration and its start/stop/run scripts, then starts it.
_rabbitmq_start() {
  local mq="$SERVICES_DIR/rabbitmq" server=/usr/lib/rabbitmq/bin/rabbitmq-server
  if [ ! -x "$server" ]; then
    echo "services: $server is missing (bash scripts/bootstrap.sh --test installs rabbitmq-server)" >&2
    return 1
  fi
  AMQP_PORT=$(_free_port)
  export AMQP_PORT
  local dist_port epmd_port
  dist_port=$(_free_port)
  epmd_port=$(_free_port)
  mkdir -p "$mq"
  # Erlang reads the cookie from $HOME/.erlang.cookie (the node's and rabbitmqctl's alike)
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$mq/.erlang.cookie"
  chmod 400 "$mq/.erlang.cookie"
  printf 'listeners.tcp.1 = 127.0.0.1:%s\ndisk_free_limit.absolute = 10MB\n' "$AMQP_PORT" > "$mq/rabbitmq.conf"
  echo '[].' > "$mq/enabled_plugins"
  : > "$mq/rabbitmq-env.conf"  # not the machine's /etc/rabbitmq/rabbitmq-env.conf
  cat > "$mq/run" <<RUN
#!/bin/sh
# run <rabbitmq-server | rabbitmqctl ...> with this node's environment
export HOME="$mq" ERL_EPMD_PORT=$epmd_port ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_NODENAME="selinon$AMQP_PORT@localhost" RABBITMQ_DIST_PORT=$dist_port
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CONF_ENV_FILE="$mq/rabbitmq-env.conf" RABBITMQ_CONFIG_FILE="$mq/rabbitmq.conf"
export RABBITMQ_ADVANCED_CONFIG_FILE="$mq/advanced.config" RABBITMQ_ENABLED_PLUGINS_FILE="$mq/enabled_plugins"
export RABBITMQ_MNESIA_BASE="$mq/mnesia" RABBITMQ_LOG_BASE="$mq/log" RABBITMQ_PID_FILE="$mq/rabbitmq.pid"
exec /usr/lib/rabbitmq/bin/"\$@"
RUN
  cat > "$mq/start" <<START
#!/usr/bin/env bash
# start the node in the background; return once it accepts AMQP connections
setsid "$mq/run" rabbitmq-server >>"$mq/server.log" 2>&1 </dev/null &
for _ in \$(seq 600); do
  (exec 3<>/dev/tcp/127.0.0.1/$AMQP_PORT) 2>/dev/null && exit 0
  sleep 0.1
done
echo "rabbitmq did not start:" >&2; tail -n 30 "$mq/server.log" >&2; exit 1
START
  cat > "$mq/stop" <<STOP
#!/usr/bin/env bash
# stop the node: SIGTERM is a clean shutdown (durable queues keep their persistent messages)
pid=\$(cat "$mq/rabbitmq.pid" 2>/dev/null) || exit 0
kill -TERM "\$pid" 2>/dev/null || exit 0
for _ in \$(seq 300); do kill -0 "\$pid" 2>/dev/null || exit 0; sleep 0.1; done
kill -KILL "\$pid" 2>/dev/null || true
STOP
  chmod +x "$mq/run" "$mq/start" "$mq/stop"
  echo "$epmd_port" > "$mq/epmd_port"
  "$mq/start"
  export SELINON_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:$AMQP_PORT//"
}

services_stop() {
  [ -n "${SERVICES_DIR:-}" ] || return 0
  local pg_bin run=()
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
  [ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
  "${run[@]}" "$pg_bin/pg_ctl" -D "$SERVICES_DIR/pg/data" -m immediate stop >/dev/null 2>&1 || true
  [ -f "$SERVICES_DIR/redis.pid" ] && kill "$(cat "$SERVICES_DIR/redis.pid")" 2>/dev/null || true
  if [ -x "$SERVICES_DIR/rabbitmq/stop" ]; then
    "$SERVICES_DIR/rabbitmq/stop"
    epmd -port "$(cat "$SERVICES_DIR/rabbitmq/epmd_port")" -kill >/dev/null 2>&1 || true
  fi
  rm -rf "$SERVICES_DIR"
}

if [ "${1:-}" = "start" ]; then
  services_start
fi
