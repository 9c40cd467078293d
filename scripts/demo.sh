#!/usr/bin/env bash
# Runs the StatusData demo: migrates a database and runs a short scenario with the library.
#   scripts/demo.sh                                   # throwaway local PostgreSQL, deleted afterwards
#   STATUSDATA_CONNECTION="Host=...;Database=...;Username=..." scripts/demo.sh   # your own server
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh
ensure_postgres STATUSDATA_CONNECTION
with_postgres STATUSDATA_CONNECTION dotnet run --project samples/StatusData.Demo -- "$@"
