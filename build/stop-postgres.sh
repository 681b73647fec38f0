#!/usr/bin/env bash
# Stops the PostgreSQL started by build/start-postgres.sh and deletes its temporary data directory.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="$here/.postgres"
[ -f "$state/data-dir" ] && [ -f "$state/bin-dir" ] || exit 0
data="$(cat "$state/data-dir")"; bin="$(cat "$state/bin-dir")"
run=()
[ "$(id -u)" -eq 0 ] && run=(runuser -u postgres --)
[ -f "$data/postmaster.pid" ] && "${run[@]}" "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1
rm -rf "$data" "$state/data-dir"
exit 0
