#!/usr/bin/env bash
# Where a lease operation's instructions go: the server under
# `valgrind --tool=callgrind` (one I/O thread, a fresh SQLite store in a
# temporary directory, a free port on 127.0.0.1), 16 profiles in one
# exclusive pool, then `bench/lease_load` with 8 connections for
# LEASE_CALLGRIND_SECONDS (8) seconds; the server is stopped and the
# inclusive profile printed (callgrind_annotate --inclusive=yes, the top
# entries). Instruction counts are exact for one binary and load, whatever
# else the machine does. Divide by the grants and releases it reports
# (lease_load's `pairs` × 2) for figures per operation.
#
#   bash bench/lease_callgrind.sh [OUT_FILE]   # default: a temporary file
#
# AGENTRY_BIN names another server binary (default: BUILD_DIR/agentry), to
# compare two builds instruction for instruction.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lease_pool.sh
source "$ROOT/bench/lease_pool.sh"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
SECONDS_RUN="${LEASE_CALLGRIND_SECONDS:-8}"
die() { echo "lease_callgrind: error: $*" >&2; exit 1; }
command -v valgrind >/dev/null || die "valgrind not found"
AGENTRY_BIN="${AGENTRY_BIN:-$BUILD_DIR/agentry}"
[[ -x "$AGENTRY_BIN" && -x "$BUILD_DIR/bench/lease_load" ]] \
  || die "build first: make build (needs $AGENTRY_BIN and $BUILD_DIR/bench/lease_load)"

TMP="$(mktemp -d /tmp/agentry-lease-cg.XXXXXX)"
OUT="${1:-$TMP/callgrind.out}"
SRV=""
cleanup() {
  [[ -n "$SRV" ]] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null || true
  [[ "$OUT" == "$TMP"/* ]] || rm -rf "$TMP"
}
trap cleanup EXIT

KEY="$(python3 -c 'import secrets, string
a = string.ascii_letters + string.digits
print("".join(secrets.choice(a) for _ in range(40)))')"
PORT="$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE="http://127.0.0.1:$PORT"
AGENTRY_BOOTSTRAP_ADMIN_KEY="$KEY" valgrind --tool=callgrind --callgrind-out-file="$OUT" \
  "$AGENTRY_BIN" serve --listen "127.0.0.1:$PORT" --store "sqlite://$TMP/db/a.db" \
  --log-level warn --threads 1 --rate-limit 1000000000:1000000000 >"$TMP/server.out" 2>"$TMP/server.err" &
SRV=$!
for _ in $(seq 200); do
  curl -sf "$BASE/healthz" >/dev/null 2>&1 && break
  kill -0 "$SRV" 2>/dev/null || { cat "$TMP/server.err" >&2; die "the server exited"; }
  sleep 0.2
done
curl -sf "$BASE/healthz" >/dev/null || die "the server did not become healthy"

POOL="$(lease_make_pool "$BASE" "$KEY" 16 "$TMP")" || die "creating the pool failed"

LEASE_LOAD_KEY="$KEY" "$BUILD_DIR/bench/lease_load" --target "127.0.0.1:$PORT" --pool "$POOL" \
  --connections 8 --duration "$SECONDS_RUN" | grep -E '^(pairs|pairs/s|non2xx|connection_errors):'
kill -TERM "$SRV"
wait "$SRV" || true
SRV=""
echo "profile: $OUT"
callgrind_annotate --inclusive=yes "$OUT" 2>/dev/null | sed -n '1,60p' | cut -c1-200
