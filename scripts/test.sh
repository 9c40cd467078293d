#!/usr/bin/env bash
# Runs every test against a real PostgreSQL and ends with one line: "tests: N passed, N failed".
#   scripts/test.sh                      # PostgreSQL 15 and 17 in containers (Testcontainers.PostgreSql)
#   STATUSDATA_TEST_IMAGE=postgres:16 scripts/test.sh        # one pass, on that image
#   STATUSDATA_TEST_SERVER=local scripts/test.sh             # a throwaway server from the local binaries
#   STATUSDATA_TEST_CONNECTION="Host=...;Username=...;Password=..." scripts/test.sh
# Extra arguments go to `dotnet test`, e.g. scripts/test.sh --filter "FullyQualifiedName~Streak".
#
# The container engine: one that answers (DOCKER_HOST, or the default socket) is used as it is; otherwise,
# as root, Debian's docker.io is installed if needed and started here, and stopped at the end with
# everything it made. Where no engine can be had, the local binaries are used, except under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh
source scripts/lib/containers.sh

# The local binaries serve the tests that run servers of their own (read replica, restart) and the fallback.
ensure_postgres STATUSDATA_TEST_CONNECTION || { echo "tests: 0 passed, 0 failed"; exit 1; }
ensure_pgbouncer
ensure_pg_auto_failover
ensure_python_alembic

# This run's containers carry this label; the clean-up removes those and nothing else.
export STATUSDATA_TEST_RUN="$$-$RANDOM"
# Stops what ensure_engine starts, also when anything below fails (it does nothing when nothing was started).
trap 'stop_engine || true' EXIT

results="artifacts/test-results"
rm -rf "$results"
mkdir -p "$results"
export STATUSDATA_TEST_SERVER_LOG="$PWD/$results/servers.txt"

# Each pass: "<name> <image>" ("-" for no image).
passes=()
if [ -n "${STATUSDATA_TEST_CONNECTION:-}" ]; then
  passes=("server-from-environment -")
elif [ "${STATUSDATA_TEST_SERVER:-}" = local ]; then
  echo "STATUSDATA_TEST_SERVER=local: a throwaway server from the local PostgreSQL binaries."
  passes=("local -")
elif ensure_engine; then
  # Testcontainers asks for a newer Docker API than Debian 12's engine (1.41) speaks; Ryuk, its reaper,
  # cannot be pulled where no registry is reachable (stop_engine removes its containers by label); and it
  # must reach the published ports on 127.0.0.1, not on the bridge's gateway.
  export DOCKER_API_VERSION="${DOCKER_API_VERSION:-$(docker version --format '{{.Server.APIVersion}}')}"
  export TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 STATUSDATA_TEST_SERVER=container
  if [ -n "${STATUSDATA_TEST_IMAGE:-}" ]; then
    passes=("image $STATUSDATA_TEST_IMAGE")
  else
    for major in ${STATUSDATA_TEST_PG_VERSIONS:-15 17}; do
      image="$(ensure_postgres_image "$major")" || { echo "error: no image for PostgreSQL $major" >&2; echo "tests: 0 passed, 0 failed"; exit 1; }
      passes+=("pg$major $image")
    done
  fi
  echo "engine: $STATUSDATA_ENGINE_DESCRIPTION"
elif [ "${CI:-}" = true ]; then
  echo "error: CI=true and no container engine could be had (a running Docker, or root with apt to install docker.io)." >&2
  echo "tests: 0 passed, 0 failed"
  exit 1
else
  echo "No container engine (needs a running Docker, or root with apt): using a throwaway server from the local PostgreSQL binaries instead."
  export STATUSDATA_TEST_SERVER=local
  passes=("local -")
fi

# Throwaway servers of earlier runs that are still here: ours must not be among them afterwards.
before=$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'statusdata-pg-*' 2>/dev/null | sort)

status=0
build=()
for pass in "${passes[@]}"; do
  name="${pass%% *}"
  image="${pass#* }"
  if [ "$image" != - ]; then export STATUSDATA_TEST_IMAGE="$image"; fi
  echo "== pass $name${image:+ ($image)}"
  # A test that hangs is stopped after 10 min, named in the output (VSTest's blame collector), instead of holding
  # the run until CI's 90-minute limit. The longest test takes about a minute.
  dotnet test StatusData.sln "${build[@]}" --logger "trx" --results-directory "$results/$name" \
    --blame-hang-timeout 10m --blame-hang-dump-type none "$@" || status=$?
  build=(--no-build)
done

passed=0
failed=0
shopt -s nullglob globstar
trx_files=("$results"/**/*.trx)
for trx in "${trx_files[@]}"; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1 || true)
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

stop_engine || echo "warning: stopping the container engine did not finish cleanly" >&2
trap - EXIT
# One line per suite and pass: the engine, the image and the PostgreSQL version it ran on.
if [ -f "$STATUSDATA_TEST_SERVER_LOG" ]; then
  while IFS= read -r line; do
    printf 'server: %s%s\n' "$line" "${STATUSDATA_ENGINE_DESCRIPTION:+ (engine: $STATUSDATA_ENGINE_DESCRIPTION)}"
  done <"$STATUSDATA_TEST_SERVER_LOG"
fi
if [ "$failed" -gt 0 ]; then status=1; fi
echo "tests: $passed passed, $failed failed"
exit "$status"
