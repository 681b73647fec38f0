#!/usr/bin/env bash
# Installs Debian's chromium and chromium-driver for the dashboard's browser tests
# (test/Bus.Dashboard.Tests) when they are missing. Idempotent; needs root (or sudo) for apt-get.
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  echo "install-chromium.sh: chromium or chromedriver is still missing after apt-get install" >&2
  exit 1
fi
