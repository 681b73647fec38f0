#!/usr/bin/env bash
# Installs (once) and starts fauxqs 1.9.2 on 127.0.0.1:${BUS_FAUXQS_PORT:-4566}, waits until it answers.
# Idempotent: does nothing when it already runs. Stop it with build/stop-fauxqs.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${BUS_FAUXQS_PORT:-4566}"
state="$here/.fauxqs"
mkdir -p "$state"

# Answers when an SQS ListQueues call succeeds (curl), or at least the port accepts connections (no curl installed).
answers() {
  if command -v curl >/dev/null; then
    curl -sf -o /dev/null -X POST -H 'Content-Type: application/x-amz-json-1.0' \
      -H 'X-Amz-Target: AmazonSQS.ListQueues' --data '{}' "http://127.0.0.1:$port/"
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

if answers; then echo "fauxqs already answers on 127.0.0.1:$port"; exit 0; fi

command -v node >/dev/null || { echo "node is required to run fauxqs (Node 20+)" >&2; exit 1; }
if [ ! -d "$here/fauxqs/node_modules/fauxqs" ]; then
  echo "installing fauxqs 1.9.2 (npm)..."
  (cd "$here/fauxqs" && npm ci --no-audit --no-fund --loglevel=error >"$state/npm-install.log" 2>&1) || {
    cat "$state/npm-install.log" >&2; exit 1; }
fi

BUS_FAUXQS_PORT="$port" nohup node "$here/fauxqs/server.mjs" >"$state/fauxqs.log" 2>&1 &
echo $! >"$state/fauxqs.pid"
for _ in $(seq 1 100); do
  if answers; then echo "fauxqs started on 127.0.0.1:$port (pid $(cat "$state/fauxqs.pid"))"; exit 0; fi
  sleep 0.2
done
echo "fauxqs did not start; log:" >&2; cat "$state/fauxqs.log" >&2; exit 1
