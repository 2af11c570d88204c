#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine, then the Python venv.
#   bash scripts/bootstrap.sh          # runtime only (the demo): python venv
#   bash scripts/bootstrap.sh --test   # + redis-server, postgresql, rabbitmq-server, graphviz, chromium
# It is idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

debs=(graphviz)
[ $want_test = 1 ] && debs+=(redis-server postgresql rabbitmq-server chromium fonts-dejavu-core)
missing=()
for pkg in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" != 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The postgresql package starts a cluster on 5432; the tests run their own, so stop it.
  $SUDO service postgresql stop >/dev/null 2>&1 || true
  # Likewise rabbitmq-server's node: scripts/services.sh starts one of its own.
  $SUDO service rabbitmq-server stop >/dev/null 2>&1 || true
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha256
sum=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
  echo "bootstrap: installing Python packages"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements.txt
  echo "$sum" > "$stamp"
fi
