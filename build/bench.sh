#!/usr/bin/env bash
# Benchmarks: Bus vs MassTransit 8.5.12 on their in-memory transports, Bus vs Wolverine 6.64.2 on durable SQLite, then SQS request cost against fauxqs.
# Builds test/Bus.Benchmarks in Release and runs it; starts fauxqs (build/start-fauxqs.sh) for the SQS part.
# Usage: bash build/bench.sh [--quick] [--skip-in-memory] [--skip-sqs] [--skip-sqlite] [--sqlite] [--profile-allocations] [--isolated]
#   full run: under 10 minutes; --quick: under a minute (CI smoke test: it only has to run).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

dotnet build test/Bus.Benchmarks/Bus.Benchmarks.csproj -c Release -nologo -v quiet

args=("$@")
needs_sqs=yes
for arg in "${args[@]}"; do
  case "$arg" in --skip-sqs|--profile-allocations|--isolated|--sqlite) needs_sqs=no ;; esac
done
if [ "$needs_sqs" = yes ]; then
  if bash "$root/build/start-fauxqs.sh"; then
    export BUS_SQS_ENDPOINT="${BUS_SQS_ENDPOINT:-http://127.0.0.1:${BUS_FAUXQS_PORT:-4566}}"
  else
    echo "fauxqs could not be started: the SQS part is skipped" >&2
    args+=(--skip-sqs)
  fi
fi

exec dotnet "$root/test/Bus.Benchmarks/bin/Release/net10.0/Bus.Benchmarks.dll" "${args[@]}"
