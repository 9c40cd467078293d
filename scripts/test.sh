#!/usr/bin/env bash
# Runs every test against a real PostgreSQL and ends with one line: "tests: N passed, N failed".
#   scripts/test.sh                      # throwaway local server (installs PostgreSQL with apt if needed, as root)
#   STATUSDATA_TEST_CONNECTION="Host=...;Username=...;Password=..." scripts/test.sh
# Extra arguments go to `dotnet test`, e.g. scripts/test.sh --filter "FullyQualifiedName~Streak".
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh
ensure_postgres STATUSDATA_TEST_CONNECTION
ensure_pgbouncer
ensure_python_alembic

results="artifacts/test-results"
rm -rf "$results"
mkdir -p "$results"

# Throwaway servers of earlier runs that are still here: ours must not be among them afterwards.
before=$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'statusdata-pg-*' 2>/dev/null | sort)

status=0
dotnet test StatusData.sln --logger "trx" --results-directory "$results" "$@" || status=$?

passed=0
failed=0
shopt -s nullglob
trx_files=("$results"/*.trx)
for trx in "${trx_files[@]}"; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
done

if [ ${#trx_files[@]} -eq 0 ]; then
  echo "error: no test results were written (did the build fail?)" >&2
  status=1
fi

after=$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'statusdata-pg-*' 2>/dev/null | sort)
leftover=""
for folder in $(comm -13 <(echo "$before") <(echo "$after")); do
  # A folder whose owner process still runs belongs to another run going on in parallel (another checkout).
  owner=$(cat "$folder/owner.pid" 2>/dev/null || true)
  if [ -n "$owner" ] && [ -d "/proc/$owner" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$owner/status" 2>/dev/null; then
    continue
  fi
  leftover="$leftover$folder"$'\n'
done
if [ -n "$leftover" ]; then
  echo "error: the test run left throwaway PostgreSQL folders behind:" >&2
  echo "$leftover" >&2
  status=1
fi

if [ "$failed" -gt 0 ]; then status=1; fi
echo "tests: $passed passed, $failed failed"
exit "$status"
