#!/bin/sh
# The part of the official postgres image's entrypoint that Testcontainers relies on, for an image
# built from Debian's packages: initdb on first start with POSTGRES_USER/POSTGRES_PASSWORD (and
# POSTGRES_HOST_AUTH_METHOD), create POSTGRES_DB while listening on the socket only, then run the
# server as the postgres user.
set -eu

# "-c fsync=off ..." alone means "postgres -c fsync=off ...".
if [ "${1#-}" != "$1" ]; then
  set -- postgres "$@"
fi

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
  user="${POSTGRES_USER:-postgres}"
  host_auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  database="${POSTGRES_DB:-$user}"
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile="$(mktemp)"
    printf '%s\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}" > "$pwfile"
    chown postgres "$pwfile"
    as_postgres initdb -D "$PGDATA" --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host="$host_auth" --encoding=UTF8 > /dev/null
    rm -f "$pwfile"
    echo "host all all all $host_auth" >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    if [ "$database" != postgres ]; then
      as_postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start > /dev/null
      as_postgres psql -v ON_ERROR_STOP=1 --username="$user" --dbname=postgres -c "CREATE DATABASE \"$database\"" > /dev/null
      as_postgres pg_ctl -D "$PGDATA" -m fast -w stop > /dev/null
    fi
  fi
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$@"
fi

exec "$@"
