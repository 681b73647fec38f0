#!/usr/bin/env bash
# Benchmarks: Bus vs MassTransit 8.5.12 on their in-memory transports, Bus vs Wolverine 6.64.2 on durable SQLite,
# Bus vs Rebus 8.10.0 on PostgreSQL, then SQS request cost against fauxqs.
# Builds test/Bus.Benchmarks in Release and runs it; starts fauxqs (build/start-fauxqs.sh) for the SQS part and
# PostgreSQL (build/start-postgres.sh) for the PostgreSQL part (skipped when it cannot be started).
# Usage: bash build/bench.sh [--quick] [--skip-in-memory] [--skip-sqs] [--skip-sqlite] [--sqlite] [--skip-postgres] [--postgres] [--profile-allocations] [--isolated]
#   full run: under 10 minutes; --quick: under a minute (CI smoke test: it only has to run).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

dotnet build test/Bus.Benchmarks/Bus.Benchmarks.csproj -c Release -nologo -v quiet

args=("$@")
needs_sqs=yes
for arg in "${args[@]}"; do
  case "$arg" in --skip-sqs|--profile-allocations|--isolated|--sqlite|--postgres) needs_sqs=no ;; esac
done
if [ "$needs_sqs" = yes ]; then
  if bash "$root/build/start-fauxqs.sh"; then
    export BUS_SQS_ENDPOINT="${BUS_SQS_ENDPOINT:-http://127.0.0.1:${BUS_FAUXQS_PORT:-4566}}"
  else
    echo "fauxqs could not be started: the SQS part is skipped" >&2
    args+=(--skip-sqs)
  fi
fi

needs_postgres=yes
for arg in "${args[@]}"; do
  case "$arg" in --skip-postgres|--profile-allocations|--isolated|--sqlite) needs_postgres=no ;; esac
done
if [ "$needs_postgres" = yes ]; then
  if bash "$root/build/start-postgres.sh"; then
    export BUS_POSTGRES_CONNECTION_STRING="${BUS_POSTGRES_CONNECTION_STRING:-Host=127.0.0.1;Port=${BUS_POSTGRES_PORT:-5433};Username=bus;Database=postgres}"
  else
    echo "postgres could not be started: the PostgreSQL part is skipped" >&2
    args+=(--skip-postgres)
  fi
fi

exec dotnet "$root/test/Bus.Benchmarks/bin/Release/net10.0/Bus.Benchmarks.dll" "${args[@]}"
