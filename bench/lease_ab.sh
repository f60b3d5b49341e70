#!/usr/bin/env bash
# bench/lease_ab.sh — two server binaries side by side on the lease path.
#
#   bash bench/lease_ab.sh BINARY_A BINARY_B [ROUNDS=4] [SECONDS=8]
#
# Starts both (each on CPU 0, its own SQLite store in a temporary directory,
# a free port on 127.0.0.1, 128 profiles in one exclusive pool), warms each
# for 2 s, then runs bench/lease_load (CPU 1, 32 connections) against A and
# B alternately, ROUNDS times, and prints pairs/s of both and B ÷ A per
# round. Only one server is under load at a time; the other waits in
# epoll. A "binary" may be a wrapper script (e.g. one setting LD_PRELOAD).
# Quote the median of the ratios: this machine's noise is about ±3 %.
set -euo pipefail
[[ $# -ge 2 ]] || { echo "usage: $0 BINARY_A BINARY_B [ROUNDS] [SECONDS]" >&2; exit 2; }
A="$(realpath "$1")"; B="$(realpath "$2")"; ROUNDS="${3:-4}"; SECONDS_PER_RUN="${4:-8}"
[[ -x "$A" && -x "$B" ]] || { echo "both binaries must be executable files" >&2; exit 2; }
[[ "$ROUNDS" =~ ^[1-9][0-9]?$ ]] || { echo "ROUNDS must be 1-99" >&2; exit 2; }
[[ "$SECONDS_PER_RUN" =~ ^[1-9][0-9]?$ ]] || { echo "SECONDS must be 1-99" >&2; exit 2; }
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lease_pool.sh
source "$ROOT/bench/lease_pool.sh"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
cmake --build "$BUILD_DIR" --target lease_load >&2
LEASE_LOAD="$BUILD_DIR/bench/lease_load"

TMP="$(mktemp -d /tmp/agentry-lease-ab.XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
ADMIN="$(python3 -c 'import secrets, string
a = string.ascii_letters + string.digits
print("".join(secrets.choice(a) for _ in range(40)))')"

# start NAME BINARY: starts a server, fills its pool; sets PORT and POOL.
start() {
  local name="$1" bin="$2" i
  PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  mkdir -p "$TMP/$name"
  (
    cd "$TMP/$name"
    while read -r v; do unset "$v"; done < <(compgen -e | grep '^AGENTRY_' || true)
    export AGENTRY_BOOTSTRAP_ADMIN_KEY="$ADMIN"
    exec taskset -c 0 "$bin" serve --listen "127.0.0.1:$PORT" --store "sqlite://$TMP/$name/a.db" \
      --log-level warn --threads 1 --rate-limit 1000000000:1000000000 >out 2>err
  ) &
  PIDS+=($!)
  for i in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$TMP/$name/err" >&2; exit 1; }
  POOL="$(lease_make_pool "http://127.0.0.1:$PORT" "$ADMIN" 128 "$TMP/$name")" \
    || { echo "$name: could not create the pool" >&2; exit 1; }
}

# run PORT POOL SECONDS: lease pairs/s of one lease_load run.
run() {
  LEASE_LOAD_KEY="$ADMIN" taskset -c 1 "$LEASE_LOAD" --target "127.0.0.1:$1" --pool "$2" \
    --connections 32 --duration "$3" | awk '$1 == "pairs/s:" { print $2 }'
}

start a "$A"; PORT_A="$PORT"; POOL_A="$POOL"
start b "$B"; PORT_B="$PORT"; POOL_B="$POOL"
run "$PORT_A" "$POOL_A" 2 >/dev/null
run "$PORT_B" "$POOL_B" 2 >/dev/null
echo "A: $A"
echo "B: $B"
for i in $(seq "$ROUNDS"); do
  a="$(run "$PORT_A" "$POOL_A" "$SECONDS_PER_RUN")"
  b="$(run "$PORT_B" "$POOL_B" "$SECONDS_PER_RUN")"
  echo "round $i: A $a pairs/s  B $b pairs/s  B/A $(python3 -c "print(round($b / $a, 3))")"
done
