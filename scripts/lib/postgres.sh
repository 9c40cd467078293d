# Sourced by the scripts in scripts/: makes sure a PostgreSQL server can be reached or started.
# - STATUSDATA_TEST_CONNECTION / STATUSDATA_CONNECTION set: an existing server is used, nothing to install.
# - otherwise the PostgreSQL server binaries (initdb, pg_ctl) are needed for a throwaway server;
#   as root they are installed with apt, otherwise the exact command is printed.

find_initdb() {
  if [ -n "${STATUSDATA_PG_BIN:-}" ] && [ -x "${STATUSDATA_PG_BIN}/initdb" ]; then echo "${STATUSDATA_PG_BIN}/initdb"; return 0; fi
  local candidate
  for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
    if [ -x "$candidate/initdb" ]; then echo "$candidate/initdb"; return 0; fi
  done
  command -v initdb 2>/dev/null
}

find_pgbouncer() {
  local candidate
  for candidate in /usr/sbin/pgbouncer /usr/bin/pgbouncer /usr/local/bin/pgbouncer; do
    if [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  command -v pgbouncer 2>/dev/null
}

# The PgBouncer tests (tests/StatusData.Tests/ScaleOut) start their own pgbouncer: install it as root,
# otherwise say how. Never fatal here: without it those tests fail with the same instruction.
ensure_pgbouncer() {
  if find_pgbouncer >/dev/null; then
    return 0
  fi
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "pgbouncer not found: installing the 'pgbouncer' package with apt-get..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || true
    # The package's service may not start here (no systemd, policy-rc.d): the tests run their own.
    apt-get install -y -qq --no-install-recommends pgbouncer >/dev/null || true
    find_pgbouncer >/dev/null && return 0
    echo "warning: could not install pgbouncer; the PgBouncer tests will fail." >&2
    return 0
  fi
  echo "warning: pgbouncer is not installed; the PgBouncer tests will fail. Install it with: sudo apt-get install -y pgbouncer" >&2
}

# The Alembic interop tests (tests/StatusData.Migrations.Tests/Alembic) run the real Alembic and
# SQLAlchemy from tests/PythonApp with Debian's Python: install its packages as root, otherwise say how.
# Never fatal here: without them those tests fail with the same instruction.
python_alembic_ready() {
  "${STATUSDATA_PYTHON:-/usr/bin/python3}" -c 'import alembic, sqlalchemy, psycopg2' 2>/dev/null
}

ensure_python_alembic() {
  if python_alembic_ready; then
    return 0
  fi
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "Python's Alembic, SQLAlchemy or psycopg2 not found: installing python3-alembic python3-sqlalchemy python3-psycopg2 with apt-get..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || true
    apt-get install -y -qq --no-install-recommends python3-alembic python3-sqlalchemy python3-psycopg2 >/dev/null || true
    python_alembic_ready && return 0
    echo "warning: could not install Python's Alembic; the Alembic interop tests will fail." >&2
    return 0
  fi
  echo "warning: Python's Alembic is not installed; the Alembic interop tests will fail. Install it with: sudo apt-get install -y python3-alembic python3-sqlalchemy python3-psycopg2" >&2
}

ensure_postgres() {
  local variable="${1:-STATUSDATA_TEST_CONNECTION}"
  if [ -n "${!variable:-}" ]; then
    echo "Using the PostgreSQL server from \$$variable."
    return 0
  fi
  if find_initdb >/dev/null; then
    return 0
  fi
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "PostgreSQL server binaries not found: installing the 'postgresql' package with apt-get..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || true
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    find_initdb >/dev/null && return 0
    echo "error: installed 'postgresql' but still cannot find initdb." >&2
    return 1
  fi
  echo "error: the PostgreSQL server binaries (initdb, pg_ctl) are needed for a throwaway test server." >&2
  echo "Install them with:   sudo apt-get install -y postgresql" >&2
  echo "or point $variable at a server where you may create databases." >&2
  return 1
}
