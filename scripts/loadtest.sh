#!/usr/bin/env bash
# Measures the limits docs/scaling.md quotes: posts/s, feed reads/s and import rows/s on one server.
#   scripts/loadtest.sh [seconds per phase, default 10]   # throwaway local PostgreSQL, deleted afterwards
#   STATUSDATA_LOADTEST_CONNECTION="Host=...;Database=scratch;Username=..." scripts/loadtest.sh   # a scratch database of yours
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh
ensure_postgres STATUSDATA_LOADTEST_CONNECTION
with_postgres STATUSDATA_LOADTEST_CONNECTION dotnet run -c Release --project samples/StatusData.LoadTest -- "$@"
