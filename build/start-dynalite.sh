#!/usr/bin/env bash
# Installs (once) and starts dynalite 4.0.0 (a local DynamoDB, in memory) on 127.0.0.1:${BUS_DYNALITE_PORT:-4567} and
# waits until it answers. Idempotent: does nothing when something already answers there. Stop it with
# build/stop-dynalite.sh. Tests find it through BUS_DYNAMODB_ENDPOINT (default http://127.0.0.1:4567).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${BUS_DYNALITE_PORT:-4567}"
state="$here/.dynalite"
mkdir -p "$state"

# Answers when an HTTP request gets any response (dynalite answers an unsigned request with an error document).
answers() {
  if command -v curl >/dev/null; then
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/" 2>/dev/null)" != "000" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

if answers; then echo "dynalite already answers on 127.0.0.1:$port"; exit 0; fi

command -v node >/dev/null || { echo "node is required to run dynalite (Node 20+)" >&2; exit 1; }
if [ ! -d "$here/dynalite/node_modules/dynalite" ]; then
  echo "installing dynalite 4.0.0 (npm)..."
  (cd "$here/dynalite" && npm ci --no-audit --no-fund --loglevel=error >"$state/npm-install.log" 2>&1) || {
    cat "$state/npm-install.log" >&2; exit 1; }
fi

# In memory (no --path); tables become ACTIVE at once so tests do not wait.
nohup node "$here/dynalite/node_modules/dynalite/cli.js" --host 127.0.0.1 --port "$port" \
  --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >"$state/dynalite.log" 2>&1 &
echo $! >"$state/dynalite.pid"
for _ in $(seq 1 100); do
  if answers; then echo "dynalite started on 127.0.0.1:$port (pid $(cat "$state/dynalite.pid"))"; exit 0; fi
  sleep 0.2
done
echo "dynalite did not start; log:" >&2; cat "$state/dynalite.log" >&2; exit 1
