#!/usr/bin/env bash
# with_postgres.sh CMD [ARG…]
#
# Runs CMD against a throwaway PostgreSQL 15 server: initdb into a fresh
# temporary directory, start the server on a free 127.0.0.1 port (its unix
# socket inside that directory, fsync on, every other setting at its default
# but max_connections=200), wait until it accepts connections, export
#   AGENTRY_TEST_PG_URL=postgres://postgres@127.0.0.1:PORT/postgres
# and run CMD. The server is always stopped and the directory removed, and the
# script exits with CMD's status. As root, the server runs as the `postgres`
# user (PostgreSQL refuses to run as root).
#
# PG_BIN overrides where initdb, pg_ctl and pg_isready are found.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARG…]" >&2
  exit 2
fi

pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
for tool in initdb pg_ctl pg_isready; do
  if [ ! -x "$pg_bin/$tool" ]; then
    echo "with_postgres.sh: $pg_bin/$tool not found (install the Debian package" \
         "postgresql, see scripts/install-deps.sh, or set PG_BIN)" >&2
    exit 2
  fi
done

tmp=$(mktemp -d /tmp/agentry-pg-XXXXXX)
as_server=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$tmp"
  as_server=(runuser -u postgres --)
fi
data="$tmp/data"
log="$tmp/server.log"

cleanup() {
  if [ -f "$data/postmaster.pid" ]; then
    "${as_server[@]}" "$pg_bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 ||
      "${as_server[@]}" "$pg_bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"${as_server[@]}" "$pg_bin/initdb" -D "$data" -U postgres --auth=trust \
  --encoding=UTF8 --locale=C.UTF-8 >"$tmp/initdb.log" 2>&1 || {
  cat "$tmp/initdb.log" >&2
  exit 2
}

# A free port: ask the kernel for one, then let the server bind it. Another
# process may take it in between, so a failed start is retried on a new port.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port=""
for attempt in 1 2 3 4 5; do
  candidate=$(free_port)
  if "${as_server[@]}" "$pg_bin/pg_ctl" -D "$data" -l "$log" -w -t 60 \
       -o "-c listen_addresses=127.0.0.1 -c port=$candidate -c unix_socket_directories=$tmp -c max_connections=200" \
       start >/dev/null 2>&1; then
    port=$candidate
    break
  fi
done
if [ -z "$port" ]; then
  echo "with_postgres.sh: the PostgreSQL server did not start; its log:" >&2
  cat "$log" >&2 || true
  exit 2
fi

for _ in $(seq 1 300); do
  if "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; then
    break
  fi
  sleep 0.1
done
if ! "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; then
  echo "with_postgres.sh: the server on port $port is not ready; its log:" >&2
  cat "$log" >&2 || true
  exit 2
fi

export AGENTRY_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
status=0
"$@" || status=$?
exit "$status"
