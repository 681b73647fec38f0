#!/usr/bin/env bash
# Stops the azurite started by build/start-azurite.sh.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pidfile="$here/.azurite/azurite.pid"
[ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null && rm -f "$pidfile"
exit 0
