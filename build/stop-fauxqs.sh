#!/usr/bin/env bash
# Stops the fauxqs started by build/start-fauxqs.sh.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pidfile="$here/.fauxqs/fauxqs.pid"
[ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null && rm -f "$pidfile"
exit 0
