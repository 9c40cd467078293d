# Sourced by the scripts in scripts/: makes sure a PostgreSQL server can be reached or started.
# - STATUSDATA_TEST_CONNECTION / STATUSDATA_CONNECTION / STATUSDATA_LOADTEST_CONNECTION set: an existing
#   server is used, nothing to install.
# - otherwise the PostgreSQL server binaries (initdb, pg_ctl) are needed for a throwaway server;
#   as root they are installed with apt, otherwise the exact command is printed. The tests start theirs
#   in .NET (tests/StatusData.TestSupport); the demo and the load test with with_postgres below.

source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

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
  find_pgbouncer >/dev/null && return 0
  # The package's service may not start here (no systemd, policy-rc.d): the tests run their own.
  apt_install pgbouncer || true
  find_pgbouncer >/dev/null && return 0
  echo "warning: pgbouncer is not installed; the PgBouncer tests will fail. Install it with: sudo apt-get install -y pgbouncer" >&2
}

# The high-availability tests (tests/StatusData.Tests/ScaleOut/AutoFailoverClusterTests) run a
# pg_auto_failover monitor and two nodes: Debian's pg_autoctl (pg-auto-failover-cli) and the monitor's
# extension for PostgreSQL 15 (postgresql-15-auto-failover; Debian 12 packages it for 15 only). Install them
# as root, otherwise say how. Never fatal here: without them those tests fail with the same instruction.
pg_auto_failover_ready() {
  command -v pg_autoctl >/dev/null && [ -f /usr/share/postgresql/15/extension/pgautofailover.control ]
}

ensure_pg_auto_failover() {
  pg_auto_failover_ready && return 0
  apt_install postgresql-15-auto-failover pg-auto-failover-cli || true
  pg_auto_failover_ready && return 0
  echo "warning: pg_auto_failover is not installed; the high-availability tests will fail. Install it with: sudo apt-get install -y postgresql-15-auto-failover pg-auto-failover-cli" >&2
}

# The Alembic interop tests (tests/StatusData.Migrations.Tests/Alembic) run the real Alembic and
# SQLAlchemy from tests/PythonApp with Debian's Python: install its packages as root, otherwise say how.
# Never fatal here: without them those tests fail with the same instruction.
python_alembic_ready() {
  "${STATUSDATA_PYTHON:-/usr/bin/python3}" -c 'import alembic, sqlalchemy, psycopg2' 2>/dev/null
}

ensure_python_alembic() {
  python_alembic_ready && return 0
  apt_install python3-alembic python3-sqlalchemy python3-psycopg2 || true
  python_alembic_ready && return 0
  echo "warning: Python's Alembic is not installed; the Alembic interop tests will fail. Install it with: sudo apt-get install -y python3-alembic python3-sqlalchemy python3-psycopg2" >&2
}

ensure_postgres() {
  local variable="${1:-STATUSDATA_TEST_CONNECTION}"
  if [ -n "${!variable:-}" ]; then
    echo "Using the PostgreSQL server from \$$variable."
    return 0
  fi
  find_initdb >/dev/null && return 0
  apt_install postgresql || true
  find_initdb >/dev/null && return 0
  echo "error: the PostgreSQL server binaries (initdb, pg_ctl) are needed for a throwaway test server." >&2
  echo "Install them with:   sudo apt-get install -y postgresql" >&2
  echo "or point $variable at a server where you may create databases." >&2
  return 1
}

# Runs a command as the postgres OS user when root (initdb and postgres refuse root), else as ourselves;
# from the temp folder, which that user can enter.
run_as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd "${TMPDIR:-/tmp}" && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# A TCP port on 127.0.0.1 that nothing listens on right now (the server's start retries if one takes it).
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
}

# Starts a throwaway PostgreSQL like the tests' ThrowawayPostgresServer: initdb into
# $TMPDIR/statusdata-pg-<id>/, on 127.0.0.1 and a free port and a socket in that folder, with fsync,
# synchronous_commit and full_page_writes off, and exports the variable $1 names as its connection
# string. owner.pid names this script, so that, should it be killed before stop_throwaway_postgres runs,
# the tests' clean-up of abandoned servers removes the folder.
start_throwaway_postgres() {
  local variable="$1" initdb bin root port attempt
  initdb="$(find_initdb)" || { echo "error: initdb not found (sudo apt-get install -y postgresql)" >&2; return 1; }
  bin="$(dirname "$initdb")"
  root="$(mktemp -d "${TMPDIR:-/tmp}/statusdata-pg-XXXXXXXXXXXX")"
  STATUSDATA_THROWAWAY_ROOT="$root"
  STATUSDATA_THROWAWAY_BIN="$bin"
  echo "$$" >"$root/owner.pid"
  mkdir "$root/socket"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$root"; fi
  if ! run_as_postgres "$bin/initdb" -D "$root/data" -U postgres --auth=trust --encoding=UTF8 --locale=C --no-sync --no-instructions >"$root/initdb.log" 2>&1; then
    cat "$root/initdb.log" >&2
    stop_throwaway_postgres
    return 1
  fi
  for attempt in 1 2 3 4 5; do
    port="$(free_port)"
    cat >"$root/data/postgresql.auto.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$root/socket'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
shared_buffers = 128MB
max_wal_size = 1GB
log_min_messages = warning
CONF
    if run_as_postgres "$bin/pg_ctl" -D "$root/data" -l "$root/postgres.log" -w -t 60 start >/dev/null; then
      export "$variable=Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"
      echo "  throwaway PostgreSQL on 127.0.0.1:$port in $root"
      return 0
    fi
  done
  cat "$root/postgres.log" >&2
  stop_throwaway_postgres
  return 1
}

# Stops the throwaway server (immediate shutdown: nothing in it needs to survive) and deletes its folder.
stop_throwaway_postgres() {
  local root="${STATUSDATA_THROWAWAY_ROOT:-}" pid
  [ -n "$root" ] || return 0
  STATUSDATA_THROWAWAY_ROOT=""
  if [ -f "$root/data/postmaster.pid" ]; then
    if ! run_as_postgres "$STATUSDATA_THROWAWAY_BIN/pg_ctl" -D "$root/data" -m immediate -w stop >/dev/null 2>&1; then
      pid="$(head -n 1 "$root/data/postmaster.pid" 2>/dev/null || true)"
      if [ -n "$pid" ] && [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = postgres ]; then kill -9 "$pid" 2>/dev/null || true; fi
    fi
  fi
  rm -rf "$root"
}

# Runs a command with the variable $1 names holding a PostgreSQL connection string: the one already set,
# or a throwaway server's, started for the command and deleted after it, also when the command fails or
# the script is interrupted. Returns the command's exit status.
with_postgres() {
  local variable="$1" status=0
  shift
  if [ -n "${!variable:-}" ]; then
    "$@" || status=$?
    return "$status"
  fi
  echo "No $variable: starting a throwaway PostgreSQL..."
  trap 'stop_throwaway_postgres' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  start_throwaway_postgres "$variable"
  "$@" || status=$?
  stop_throwaway_postgres
  trap - EXIT INT TERM
  echo
  echo "Throwaway PostgreSQL stopped and deleted."
  return "$status"
}
