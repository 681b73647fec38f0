#!/usr/bin/env bash
# The test command: starts the local peers on 127.0.0.1 (fauxqs for SQS/SNS, dynalite for DynamoDB, azurite for
# Azure Table storage), installs Debian's chromium for the dashboard's browser tests when missing, runs every test project in Bus.sln,
# and ends with one line "N passed, N failed, N skipped" summed from the TRX results.
# Usage: bash build/test.sh [extra dotnet test arguments]
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
results="$root/TestResults"
rm -rf "$results"

bash "$root/build/start-fauxqs.sh" || { echo "could not start fauxqs"; echo "0 passed, 1 failed"; exit 1; }
export BUS_SQS_ENDPOINT="${BUS_SQS_ENDPOINT:-http://127.0.0.1:${BUS_FAUXQS_PORT:-4566}}"
bash "$root/build/start-dynalite.sh" || { echo "could not start dynalite"; echo "0 passed, 1 failed"; exit 1; }
export BUS_DYNAMODB_ENDPOINT="${BUS_DYNAMODB_ENDPOINT:-http://127.0.0.1:${BUS_DYNALITE_PORT:-4567}}"
bash "$root/build/start-azurite.sh" || { echo "could not start azurite"; echo "0 passed, 1 failed"; exit 1; }
export BUS_AZURITE_TABLE_PORT="${BUS_AZURITE_TABLE_PORT:-10002}"   # the tests' default connection string uses it

bash "$root/build/install-chromium.sh" || { echo "could not install chromium (the dashboard's browser tests need it)"; echo "0 passed, 1 failed"; exit 1; }

dotnet build Bus.sln -c Release -nologo -v quiet 2>&1 | grep -E "error|Build succeeded|Warn" | sort -u
build_rc=${PIPESTATUS[0]}
if [ "$build_rc" -ne 0 ]; then
  echo "build failed"; echo "0 passed, 1 failed"; exit 1
fi

dotnet test Bus.sln -c Release --no-build -nologo \
  --logger "trx" --logger "console;verbosity=minimal" --results-directory "$results" \
  --blame-hang-timeout 5m "$@"
test_rc=$?

passed=0; failed=0; skipped=0; files=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  files=$((files + 1))
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  get() { echo "$counters" | grep -o "$1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
  total=$(get total); executed=$(get executed); p=$(get passed); f=$(get failed); e=$(get error); t=$(get timeout); a=$(get aborted)
  passed=$((passed + p)); failed=$((failed + f + e + t + a)); skipped=$((skipped + total - executed))
done
# Failures found outside dotnet test (e.g. by .ci/run's benchmark smoke run) are added here.
failed=$((failed + ${BUS_EXTRA_FAILURES:-0}))
if [ "$files" -eq 0 ] || { [ "$test_rc" -ne 0 ] && [ "$failed" -eq 0 ]; }; then
  # The runner failed without recording a failed test (crash, hang): count it as a failure.
  failed=$((failed + 1))
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
