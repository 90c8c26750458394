#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the tests and benchmarks:
# `initdb` into a fresh directory as the unprivileged `postgres` user (the
# server refuses to run as root), on a free loopback port, with a role
# `arca` that logs in by password (SCRAM) and owns a database `arca`.
#
#   tests/postgres.sh start DIR         # prints: PORT PASSWORD
#   tests/postgres.sh createdb DIR NAME # another database owned by arca
#   tests/postgres.sh psql DIR SQL     # one statement as the superuser
#                                       # (in database $ARCA_POSTGRES_DB, default postgres)
#   tests/postgres.sh pgbench DIR ARGS  # pgbench over TCP to this server
#   tests/postgres.sh stop DIR
#   tests/postgres.sh resume DIR        # start a stopped one again, same port
#
# DIR (empty or new, its parent reachable by `postgres`) becomes `postgres`'s alone.
# ARCA_POSTGRES_LOG_STATEMENT=all logs every statement to DIR/log (to count
# a job's round trips); ARCA_POSTGRES_PRELOAD=pg_stat_statements loads that
# module (where each statement's time goes); ARCA_POSTGRES_FSYNC /
# _SYNC_COMMIT=on make it durable.
set -euo pipefail

bin="${ARCA_POSTGRES_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
if [ ! -x "$bin/initdb" ]; then
  echo "postgres.sh: no PostgreSQL found (install Debian's postgresql package)" >&2
  exit 1
fi
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
start)
  dir="$2"
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
  chmod 700 "$dir"
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
  as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --no-sync >/dev/null
  as_postgres tee -a "$dir/data/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
fsync = ${ARCA_POSTGRES_FSYNC:-off}
synchronous_commit = ${ARCA_POSTGRES_SYNC_COMMIT:-off}
log_statement = '${ARCA_POSTGRES_LOG_STATEMENT:-none}'
shared_preload_libraries = '${ARCA_POSTGRES_PRELOAD:-}'
CONF
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w start >/dev/null
  as_postgres "$bin/psql" -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE arca LOGIN PASSWORD '$password'" -c "CREATE DATABASE arca OWNER arca" >/dev/null
  echo "$port" > "$dir/port"
  echo "$port $password"
  ;;
createdb)
  as_postgres "$bin/psql" -q -h "$2" -p "$(cat "$2/port")" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "CREATE DATABASE $3 OWNER arca" >/dev/null
  ;;
psql)
  as_postgres "$bin/psql" -h "$2" -p "$(cat "$2/port")" -U postgres -d "${ARCA_POSTGRES_DB:-postgres}" \
    -v ON_ERROR_STOP=1 -c "$3"
  ;;
pgbench)
  dir="$2"
  shift 2
  "$bin/pgbench" -h 127.0.0.1 -p "$(cat "$dir/port")" "$@"
  ;;
stop)
  as_postgres "$bin/pg_ctl" -D "$2/data" -m fast -w stop >/dev/null 2>&1 || true
  ;;
resume)
  as_postgres "$bin/pg_ctl" -D "$2/data" -l "$2/log" -w start >/dev/null
  ;;
*)
  echo "usage: $0 start DIR | createdb DIR NAME | psql DIR SQL | pgbench DIR ARGS | stop DIR | resume DIR" >&2
  exit 2
  ;;
esac
