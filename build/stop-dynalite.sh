#!/usr/bin/env bash
# Stops the dynalite started by build/start-dynalite.sh.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pidfile="$here/.dynalite/dynalite.pid"
[ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null && rm -f "$pidfile"
exit 0
