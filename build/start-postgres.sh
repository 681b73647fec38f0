#!/usr/bin/env bash
# Installs (once, with apt-get: Debian's PostgreSQL 15) and starts a throwaway PostgreSQL server for the tests and
# benchmarks on 127.0.0.1:${BUS_POSTGRES_PORT:-5433}, with its data in a temporary directory, and waits until it
# accepts connections. Idempotent: does nothing when a server already answers there. Runs the server as the
# "postgres" user when started as root (PostgreSQL refuses to run as root). Stop it with build/stop-postgres.sh.
# Tests find it through BUS_POSTGRES_CONNECTION_STRING (default
# "Host=127.0.0.1;Port=5433;Username=bus;Database=postgres"), which build/test.sh exports.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${BUS_POSTGRES_PORT:-5433}"
state="$here/.postgres"
mkdir -p "$state"

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "PostgreSQL is not installed and neither root nor sudo is available to install it: apt-get install postgresql-15" >&2; exit 1; fi; }

bin="$(find_bin)"
if [ -z "$bin" ]; then
  echo "installing PostgreSQL 15 (apt-get)..."
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$state/apt.log" 2>&1 || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >>"$state/apt.log" 2>&1 \
    || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >>"$state/apt.log" 2>&1 \
    || { cat "$state/apt.log" >&2; exit 1; }
  bin="$(find_bin)"
  [ -n "$bin" ] || { echo "apt-get installed no PostgreSQL server binaries under /usr/lib/postgresql" >&2; exit 1; }
fi

answers() { "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" >/dev/null 2>&1; }
if answers; then echo "postgres already answers on 127.0.0.1:$port"; exit 0; fi

# As root, the server runs as "postgres" (created by the Debian package; created here when missing).
run=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  run=(runuser -u postgres --)
fi

data="${TMPDIR:-/tmp}/bus-postgres-$port"
if [ ! -f "$data/PG_VERSION" ]; then
  rm -rf "$data"; mkdir -p "$data"
  [ "${#run[@]}" -eq 0 ] || chown postgres "$data"
  chmod 700 "$data"
  "${run[@]}" "$bin/initdb" -D "$data" -U bus --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$state/initdb.log" 2>&1 \
    || "${run[@]}" "$bin/initdb" -D "$data" -U bus --auth=trust --encoding=UTF8 --no-locale >"$state/initdb.log" 2>&1 \
    || { cat "$state/initdb.log" >&2; exit 1; }
fi
echo "$data" >"$state/data-dir"
echo "$bin" >"$state/bin-dir"

# Local only (127.0.0.1, socket in the data dir); durable defaults (fsync on, synchronous_commit on).
"${run[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$data -c max_connections=400" start >"$state/pg_ctl.log" 2>&1 \
  || { cat "$state/pg_ctl.log" "$data/server.log" >&2 2>/dev/null; exit 1; }
for _ in $(seq 1 100); do
  if answers; then echo "postgres started on 127.0.0.1:$port (data in $data)"; exit 0; fi
  sleep 0.2
done
echo "postgres did not start; log:" >&2; cat "$data/server.log" >&2; exit 1
