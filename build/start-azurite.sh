#!/usr/bin/env bash
# Installs (once) and starts azurite 3.37.0's table service (a local Azure Table storage, in memory, loose mode) on
# 127.0.0.1:${BUS_AZURITE_TABLE_PORT:-10002} and waits until it answers. Idempotent: does nothing when something
# already answers there. Stop it with build/stop-azurite.sh. Tests find it through BUS_AZURE_TABLES_CONNECTION_STRING
# (default: the well-known development account devstoreaccount1 at http://127.0.0.1:10002).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${BUS_AZURITE_TABLE_PORT:-10002}"
state="$here/.azurite"
mkdir -p "$state"

# Answers when an HTTP request gets any response (azurite answers an unsigned request with an error document).
answers() {
  if command -v curl >/dev/null; then
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/devstoreaccount1/Tables" 2>/dev/null)" != "000" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

if answers; then echo "azurite (tables) already answers on 127.0.0.1:$port"; exit 0; fi

command -v node >/dev/null || { echo "node is required to run azurite (Node 20+)" >&2; exit 1; }
if [ ! -d "$here/azurite/node_modules/azurite" ]; then
  echo "installing azurite 3.37.0 (npm)..."
  (cd "$here/azurite" && npm ci --no-audit --no-fund --loglevel=error >"$state/npm-install.log" 2>&1) || {
    cat "$state/npm-install.log" >&2; exit 1; }
fi

# Table service only, in memory, no telemetry; run from the state folder so nothing lands in the checkout.
cd "$state"
nohup node "$here/azurite/node_modules/azurite/dist/src/table/main.js" --tableHost 127.0.0.1 --tablePort "$port" \
  --inMemoryPersistence --loose --skipApiVersionCheck --disableTelemetry --silent \
  >"$state/azurite.log" 2>&1 &
echo $! >"$state/azurite.pid"
for _ in $(seq 1 150); do
  if answers; then echo "azurite (tables) started on 127.0.0.1:$port (pid $(cat "$state/azurite.pid"))"; exit 0; fi
  sleep 0.2
done
echo "azurite did not start; log:" >&2; cat "$state/azurite.log" >&2; exit 1
