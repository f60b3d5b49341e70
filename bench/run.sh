#!/usr/bin/env bash
# bench/run.sh — issue 9's targets in one run: the hot read path, GET of an
# agent on each surface (/v1/agents/{key}, Vectara /v2/agents/{key}, Odeus
# /agent/v1/get), measured against nginx serving the very same response
# bytes as a static file; the lease path against the disk's raw commit rate;
# 10,000 agents (start, RSS); instructions per GET (callgrind). Ends with one
# table of every target, measured value, goal and whether it is met.
#
#   bash bench/run.sh                    # 3 rounds of 10 s per target
#   DURATION=30 ROUNDS=5 bash bench/run.sh
#   bash bench/run.sh render             # only the Velocity render micro-benchmark
#   bash bench/run.sh leases             # only the lease benchmark (also part of the full run)
#   bash bench/run.sh scale              # 10,000 agents × 3 versions: start time and RSS
#   bash bench/run.sh cluster            # 3 nodes on PostgreSQL vs 1 on SQLite (GET, leases)
#
# Both servers are pinned to CPU 0 and wrk to CPU 1, so the load generator
# never competes with the server under test, and the two targets are run
# alternately so that both see the same machine noise. See bench/README.md.
set -euo pipefail

DURATION="${DURATION:-10}"   # seconds per measured wrk run
ROUNDS="${ROUNDS:-3}"        # measured runs per target, alternating
WARMUP=2                     # seconds of one unmeasured warm-up run per target
CONNECTIONS=32               # wrk -c
SERVER_CPU=0                 # agentry and nginx (taskset -c)
CLIENT_CPU=1                 # wrk (taskset -c)
AGENT_KEY="agt_customer_support_001"
OUT_DIR="${OUT_DIR:-}"       # optional: keep raw wrk outputs and logs here

die() { echo "bench: error: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a positive integer (seconds), got '$DURATION'"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$ROUNDS'"
((DURATION <= 600)) || die "DURATION is capped at 600 s"
((ROUNDS <= 50)) || die "ROUNDS is capped at 50"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=bench/lease_pool.sh
source "$ROOT/bench/lease_pool.sh"

# ---------------------------------------------------------------- render
# `bash bench/run.sh render`: the Velocity engine's Google Benchmark
# (bench/render_bench.cc) — parse, render and parse+render of a ~2 KB
# instruction with 20 references and a 50-item #foreach — pinned to one core,
# RENDER_REPETITIONS (5) repetitions, medians reported. Builds the target
# `render_bench` in BUILD_DIR (build) first: a no-op when it is up to date.
if [[ "${1:-}" == render ]]; then
  BUILD_DIR="${BUILD_DIR:-build}"
  RENDER_CPU="${RENDER_CPU:-0}"
  RENDER_REPETITIONS="${RENDER_REPETITIONS:-5}"
  [[ "$RENDER_REPETITIONS" =~ ^[1-9][0-9]*$ ]] || die "RENDER_REPETITIONS must be a positive integer"
  command -v taskset >/dev/null 2>&1 || die "taskset not found (util-linux)"
  [[ -f "$BUILD_DIR/build.ninja" ]] || make configure BUILD_DIR="$BUILD_DIR"
  cmake --build "$BUILD_DIR" --target render_bench >&2 \
    || die "building render_bench failed (is libbenchmark-dev installed? make deps)"
  RENDER_BIN="$BUILD_DIR/bench/render_bench"
  RENDER_JSON="$(mktemp "${TMPDIR:-/tmp}/agentry-render.XXXXXX")"
  trap 'rm -f "$RENDER_JSON"' EXIT
  RENDER_CMD=(taskset -c "$RENDER_CPU" "$RENDER_BIN"
    "--benchmark_repetitions=$RENDER_REPETITIONS" --benchmark_report_aggregates_only=true)
  log "running: ${RENDER_CMD[*]}"
  "${RENDER_CMD[@]}" --benchmark_out="$RENDER_JSON" --benchmark_out_format=json >&2
  GIT_REV="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  git diff --quiet HEAD -- 2>/dev/null || GIT_REV="$GIT_REV (with uncommitted changes)"
  echo
  echo "## Velocity render: parse and render of a 2 KB instruction"
  echo
  echo "commit $GIT_REV; $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) CPUs," \
    "Linux $(uname -r); pinned to CPU $RENDER_CPU; $RENDER_REPETITIONS repetitions."
  echo
  echo '```'
  echo "${RENDER_CMD[*]}"
  echo '```'
  echo
  python3 - "$RENDER_JSON" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
rows = {}
for b in data["benchmarks"]:
    if b.get("run_type") != "aggregate":
        continue
    unit = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
    r = rows.setdefault(b["run_name"], {"label": b.get("label", "")})
    r[b["aggregate_name"]] = b["real_time"] * unit
print("| benchmark | median ns | mean ns | stddev ns | per second (median) |")
print("|---|---:|---:|---:|---:|")
for name, r in rows.items():
    print(f"| {name} | {r['median']:.0f} | {r['mean']:.0f} | {r.get('stddev', 0):.0f} "
          f"| {1e9 / r['median']:.0f} |")
labels = {r["label"] for r in rows.values() if r["label"]}
if labels:
    print()
    print("Workload: " + "; ".join(sorted(labels)) + ".")
PY
  exit 0
fi

# Everything is on 127.0.0.1: never let curl go through a proxy.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY || true

# ---------------------------------------------------------------- tools
install_missing() {
  local pkgs=()
  command -v wrk >/dev/null 2>&1 || pkgs+=(wrk)
  [[ -x /usr/sbin/nginx ]] || pkgs+=(nginx)
  command -v taskset >/dev/null 2>&1 || pkgs+=(util-linux)
  command -v curl >/dev/null 2>&1 || pkgs+=(curl)
  command -v python3 >/dev/null 2>&1 || pkgs+=(python3)
  ((${#pkgs[@]} == 0)) && return 0
  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 || die "missing ${pkgs[*]} and not root (no sudo)"
    sudo=(sudo)
  fi
  log "installing ${pkgs[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if ! timeout 600 "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1; then
    timeout 600 "${sudo[@]}" apt-get update -qq >/dev/null
    timeout 600 "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  fi
}
install_missing
NGINX=/usr/sbin/nginx
WRK="$(command -v wrk)"
[[ -x "$NGINX" ]] || die "$NGINX not found"

NCPU="$(nproc)"
((NCPU >= 2)) || log "warning: only $NCPU CPU; server and wrk will share it"
((NCPU >= 2)) || CLIENT_CPU=0

if [[ "${1:-}" != leases && ! -x build/agentry ]]; then
  log "build/agentry missing; running make build"
  make build
fi
AGENTRY="$ROOT/build/agentry"

# ---------------------------------------------------------------- cleanup
TMP="$(mktemp -d "${TMPDIR:-/tmp}/agentry-bench.XXXXXX")"
AGENTRY_PID=""
NGINX_PID=""
WRK_PID=""

stop_pid() {  # stop_pid PID NAME: SIGTERM, wait up to 12 s, then SIGKILL
  local pid="$1" name="$2" i
  [[ -n "$pid" ]] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 120; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "warning: $name (pid $pid) ignored SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$WRK_PID" wrk
  stop_pid "$AGENTRY_PID" agentry
  stop_pid "$NGINX_PID" nginx
  stop_pid "${LEASE_LOAD_PID:-}" lease_load
  stop_pid "${LEASE_AGENTRY_PID:-}" agentry
  if [[ -n "$OUT_DIR" && -d "$TMP" ]]; then
    mkdir -p "$OUT_DIR"
    cp -r "$TMP"/wrk-*.txt "$TMP"/agentry.out "$TMP"/agentry.err "$TMP"/nginx/error.log "$OUT_DIR"/ 2>/dev/null || true
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers
free_port() {
  python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# http_code METHOD URL OUTFILE [curl args...]: prints the status code.
http_code() {
  local method="$1" url="$2" out="$3"
  shift 3
  curl -sS --max-time 10 -o "$out" -w '%{http_code}' -X "$method" "$@" "$url" || true
}

wait_for_200() {  # wait_for_200 URL PID NAME LOGFILE: up to 30 s
  local url="$1" pid="$2" name="$3" logfile="$4" i
  for ((i = 0; i < 300; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$logfile" >&2 || true
      die "$name exited during start-up"
    fi
    [[ "$(curl -s --max-time 1 -o /dev/null -w '%{http_code}' "$url" || true)" == 200 ]] && return 0
    sleep 0.1
  done
  tail -n 30 "$logfile" >&2 || true
  die "$name did not answer 200 on $url within 30 s"
}

# to_ms VALUE: wrk's "123.45us" / "1.23ms" / "2.00s" / "1.00m" -> milliseconds
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (match(v, /^[0-9.]+/) == 0) { print "NaN"; exit 1 }
    n = substr(v, 1, RLENGTH); u = substr(v, RLENGTH + 1)
    if (u == "us") f = 0.001; else if (u == "ms") f = 1; else if (u == "s") f = 1000;
    else if (u == "m") f = 60000; else if (u == "h") f = 3600000; else { print "NaN"; exit 1 }
    printf "%.4f\n", n * f }'
}

median() {  # median NUMBERS...
  printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
    if (NR % 2) printf "%.4f\n", a[(NR + 1) / 2]; else printf "%.4f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# busy_percent: how busy the whole machine is over one second, from /proc/stat.
busy_percent() {
  local a b
  a="$(head -n1 /proc/stat)"; sleep 1; b="$(head -n1 /proc/stat)"
  awk -v a="$a" -v b="$b" 'BEGIN {
    na = split(a, x); split(b, y); t = 0
    for (i = 2; i <= na; i++) t += y[i] - x[i]
    idle = (y[5] - x[5]) + (y[6] - x[6])
    printf "%.0f\n", (t > 0 ? 100 * (t - idle) / t : 0) }'
}

# spread TARGET NUMBERS...: a warning when the runs differ by more than 15 %.
spread() {
  local target="$1"; shift
  printf '%s\n' "$@" | sort -g | awk -v t="$target" '{ a[NR] = $1 } END {
    if (NR > 1 && a[1] > 0 && a[NR] / a[1] > 1.15)
      printf "%s: requests/s vary by %.0f %% between runs (%.0f to %.0f): the machine was noisy\n", t, 100 * (a[NR] / a[1] - 1), a[1], a[NR] }'
}

# ---------------------------------------------------------------- leases
# `bash bench/run.sh leases` (and the end of the full run): the lease hot
# path. A fresh agentry on SQLite (pinned to CPU 0) with LEASE_PROFILES (128)
# profiles in one exclusive pool; bench/lease_load (CPU 1) runs
# LEASE_CONNECTIONS (32) keep-alive connections, each looping acquire
# (POST /v1/agent-profile-pools/{id}/leases, 201) + release
# (DELETE /v1/leases/{id}, 204). Beside it, in the same temporary directory
# (same disk) and on CPU 0, bench/raw_commit measures the disk's raw durable
# commit rate: single-row SQLite WAL synchronous=FULL commits in a loop. The
# two alternate for ROUNDS rounds of DURATION seconds after a WARMUP each;
# medians reported. Builds the targets raw_commit and lease_load in BUILD_DIR
# (build) first — a no-op when up to date — and uses BUILD_DIR/agentry as it
# is (`make build` only when it is missing). See bench/README.md.
LEASE_PROFILES=128
LEASE_CONNECTIONS=32
LEASE_AGENTRY_PID=""
LEASE_LOAD_PID=""

lease_q() { printf '%q ' "$@" | sed 's/ $//'; }

# lease_value FILE KEY: the value of a "key: value" line of lease_load/raw_commit.
lease_value() { awk -v k="$2:" '$1 == k { print $2; exit }' "$1"; }

# lease_run KIND LABEL SECONDS: one lease_load or raw_commit run, in the
# background so that a signal is handled at once; records the numbers unless
# LABEL is "warmup".
lease_run() {
  local kind="$1" label="$2" secs="$3" out rc=0 cmd
  out="$TMP/lease-$kind-$label.txt"
  if [[ "$kind" == leases || "$kind" == spin ]]; then
    cmd=("${LEASE_LOAD_CMD[@]}" --duration "$secs")
    [[ "$kind" == spin ]] && cmd+=(--spin)
    LEASE_LOAD_KEY="$LEASE_ADMIN" timeout $((secs + 60)) "${cmd[@]}" >"$out" 2>"$out.err" &
  else
    cmd=("${RAW_COMMIT_CMD[@]}" "$secs")
    timeout $((secs + 60)) "${cmd[@]}" >"$out" 2>"$out.err" &
  fi
  LEASE_LOAD_PID=$!
  wait "$LEASE_LOAD_PID" || rc=$?
  LEASE_LOAD_PID=""
  if ((rc != 0)); then
    cat "$out" "$out.err" >&2
    die "$kind ($label) failed (exit $rc)"
  fi
  if [[ "$kind" == spin ]]; then
    local pairs p50 p99
    pairs="$(lease_value "$out" pairs/s)"
    p50="$(lease_value "$out" pair_p50_ms)"; p99="$(lease_value "$out" pair_p99_ms)"
    [[ -n "$pairs" && -n "$p50" && -n "$p99" ]] || { cat "$out" >&2; die "could not parse lease_load --spin output ($label)"; }
    log "$(printf '%-11s %-7s %10s pairs/s   pair p50 %8s ms   p99 %8s ms' "leases spin" "$label" "$pairs" "$p50" "$p99")"
    [[ "$label" == warmup ]] && return 0
    S_PAIRS+=("$pairs"); S_P50+=("$p50"); S_P99+=("$p99")
  elif [[ "$kind" == leases ]]; then
    local pairs p50 p99 ops
    pairs="$(lease_value "$out" pairs/s)"; ops="$(lease_value "$out" lease_ops/s)"
    p50="$(lease_value "$out" pair_p50_ms)"; p99="$(lease_value "$out" pair_p99_ms)"
    [[ -n "$pairs" && -n "$p50" && -n "$p99" && -n "$ops" ]] || { cat "$out" >&2; die "could not parse lease_load output ($label)"; }
    log "$(printf '%-11s %-7s %10s pairs/s   pair p50 %8s ms   p99 %8s ms' leases "$label" "$pairs" "$p50" "$p99")"
    [[ "$label" == warmup ]] && return 0
    L_PAIRS+=("$pairs"); L_OPS+=("$ops"); L_P50+=("$p50"); L_P99+=("$p99")
    L_ACQ_P99+=("$(lease_value "$out" acquire_p99_ms)")
  else
    local cps p50 p99
    cps="$(lease_value "$out" commits/s)"; p50="$(lease_value "$out" p50_ms)"; p99="$(lease_value "$out" p99_ms)"
    [[ -n "$cps" && -n "$p50" && -n "$p99" ]] || { cat "$out" >&2; die "could not parse raw_commit output ($label)"; }
    log "$(printf '%-11s %-7s %10s commits/s commit p50 %8s ms p99 %8s ms' raw_commit "$label" "$cps" "$p50" "$p99")"
    [[ "$label" == warmup ]] && return 0
    R_CPS+=("$cps"); R_P50+=("$p50"); R_P99+=("$p99")
  fi
}

run_leases() {
  local build_dir="${BUILD_DIR:-build}" agentry port base code i pool_id
  command -v taskset >/dev/null 2>&1 || die "taskset not found (util-linux)"
  if [[ ! -x "$build_dir/agentry" ]]; then
    log "$build_dir/agentry missing; running make build"
    make build BUILD_DIR="$build_dir"
  fi
  [[ -f "$build_dir/build.ninja" ]] || make configure BUILD_DIR="$build_dir"
  cmake --build "$build_dir" --target raw_commit lease_load >&2 || die "building raw_commit and lease_load failed"
  agentry="$(cd "$build_dir" && pwd)/agentry"
  local raw_commit lease_load
  raw_commit="$(cd "$build_dir" && pwd)/bench/raw_commit"
  lease_load="$(cd "$build_dir" && pwd)/bench/lease_load"

  LEASE_ADMIN="$(python3 -c 'import secrets, string
a = string.ascii_letters + string.digits
print("".join(secrets.choice(a) for _ in range(40)))')"
  port="$(free_port)"
  mkdir -p "$TMP/leases"
  LEASE_AGENTRY_CMD=(taskset -c "$SERVER_CPU" "$agentry" serve --listen "127.0.0.1:$port"
    --store "sqlite://$TMP/leases/a.db" --log-level warn --threads 1
    --rate-limit 1000000000:1000000000)
  (
    cd "$TMP/leases"
    while read -r v; do unset "$v"; done < <(compgen -e | grep '^AGENTRY_' || true)
    export AGENTRY_BOOTSTRAP_ADMIN_KEY="$LEASE_ADMIN"
    exec "${LEASE_AGENTRY_CMD[@]}" >"$TMP/leases/agentry.out" 2>"$TMP/leases/agentry.err"
  ) &
  LEASE_AGENTRY_PID=$!
  base="http://127.0.0.1:$port"
  wait_for_200 "$base/healthz" "$LEASE_AGENTRY_PID" agentry "$TMP/leases/agentry.err"
  log "leases: agentry up on $base (pid $LEASE_AGENTRY_PID); creating $LEASE_PROFILES profiles"

  local auth=(-H "Authorization: Bearer $LEASE_ADMIN")
  pool_id="$(lease_make_pool "$base" "$LEASE_ADMIN" "$LEASE_PROFILES" "$TMP/leases")" \
    || die "could not create the bench pool"
  log "leases: pool $pool_id holds $LEASE_PROFILES profiles (exclusive)"

  LEASE_LOAD_CMD=(taskset -c "$CLIENT_CPU" "$lease_load" --target "127.0.0.1:$port" --pool "$pool_id"
    --connections "$LEASE_CONNECTIONS")
  RAW_COMMIT_CMD=(taskset -c "$SERVER_CPU" "$raw_commit" "$TMP/leases/raw.db")
  L_PAIRS=(); L_OPS=(); L_P50=(); L_P99=(); L_ACQ_P99=(); R_CPS=(); R_P50=(); R_P99=()
  S_PAIRS=(); S_P50=(); S_P99=()
  local warnings=() busy
  busy="$(busy_percent)"
  if ((busy > 10)); then
    warnings+=("the machine was ${busy} % busy (other processes) just before the runs; expect noise")
    log "warning: the machine is ${busy} % busy before the runs (other processes); numbers will be noisy"
  fi
  log "leases: warm-up ${WARMUP} s each; then $ROUNDS round(s) of ${DURATION} s each, alternating lease_load, lease_load --spin and raw_commit"
  lease_run leases warmup "$WARMUP"
  lease_run spin warmup "$WARMUP"
  lease_run raw warmup "$WARMUP"
  for ((i = 1; i <= ROUNDS; i++)); do
    lease_run leases "round$i" "$DURATION"
    lease_run spin "round$i" "$DURATION"
    lease_run raw "round$i" "$DURATION"
  done

  kill -0 "$LEASE_AGENTRY_PID" 2>/dev/null || die "agentry died during the lease benchmark"
  code="$(http_code GET "$base/v1/agent-profile-pools/$pool_id/leases" "$TMP/leases/left.out" "${auth[@]}")"
  [[ "$code" == 200 ]] || die "GET /v1/agent-profile-pools/$pool_id/leases answered $code after the load"
  grep -q '"data":\[\]' "$TMP/leases/left.out" \
    || warnings+=("leases still active after the runs (a connection error left them held): $(head -c 300 "$TMP/leases/left.out")")

  local pairs ops p50 p99 acq99 cps c50 c99 ratio ops_ratio w
  pairs="$(median "${L_PAIRS[@]}")"; ops="$(median "${L_OPS[@]}")"
  p50="$(median "${L_P50[@]}")"; p99="$(median "${L_P99[@]}")"; acq99="$(median "${L_ACQ_P99[@]}")"
  cps="$(median "${R_CPS[@]}")"; c50="$(median "${R_P50[@]}")"; c99="$(median "${R_P99[@]}")"
  ratio="$(awk -v a="$pairs" -v b="$cps" 'BEGIN { printf "%.2f", a / b }')"
  local spairs s50 s99 sratio
  spairs="$(median "${S_PAIRS[@]}")"; s50="$(median "${S_P50[@]}")"; s99="$(median "${S_P99[@]}")"
  sratio="$(awk -v a="$spairs" -v b="$cps" 'BEGIN { printf "%.2f", a / b }')"
  ops_ratio="$(awk -v a="$ops" -v b="$cps" 'BEGIN { printf "%.2f", a / b }')"
  w="$(spread "lease pairs" "${L_PAIRS[@]}")"; [[ -z "$w" ]] || warnings+=("$w")
  w="$(spread raw_commit "${R_CPS[@]}")"; [[ -z "$w" ]] || warnings+=("$w")
  busy="$(busy_percent)"
  ((busy <= 10)) || warnings+=("the machine was ${busy} % busy (other processes) just after the runs; expect noise")
  local met="not met"
  awk -v a="$pairs" -v c="$cps" -v p="$p99" 'BEGIN { exit !(a >= 5 * c && p <= 20) }' && met="met"

  local rev cpu
  if rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"; then
    git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || rev="$rev (with uncommitted changes)"
  else
    rev="unknown commit"
  fi
  cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
  echo
  echo "## Leases: acquire + release on an exclusive pool of $LEASE_PROFILES profiles vs the disk's raw commit rate"
  echo
  echo "agentry $("$agentry" --version 2>/dev/null | head -n1 | sed 's/^agentry //' || true) at $rev;" \
    "SQLite $(lease_value "$TMP/lease-raw-round1.txt" sqlite);" \
    "${cpu:-unknown CPU}, $(nproc) CPUs, Linux $(uname -r); store and raw_commit in $(df -P "$TMP" | awk 'NR == 2 { print $1 }')" \
    "($(findmnt -no FSTYPE -T "$TMP" 2>/dev/null || echo '?'))."
  echo "lease_load: $LEASE_CONNECTIONS connections (one thread, CPU $CLIENT_CPU); agentry and raw_commit on CPU $SERVER_CPU;" \
    "${DURATION} s per run, $ROUNDS run(s) each (alternating, after a ${WARMUP} s warm-up each); medians over the runs."
  echo
  echo "| target | median per second | median p50 ms | median p99 ms | ÷ raw commits/s |"
  echo "|---|---:|---:|---:|---:|"
  printf '| lease acquire + release pairs (%d connections) | %.0f | %.3f | %.3f | **%s** |\n' \
    "$LEASE_CONNECTIONS" "$pairs" "$p50" "$p99" "$ratio"
  printf '| lease operations (acquire or release; 2 durable writes per pair) | %.0f | | | %s |\n' "$ops" "$ops_ratio"
  printf '| the same pairs, generator never sleeping (`lease_load --spin`) | %.0f | %.3f | %.3f | %s |\n' \
    "$spairs" "$s50" "$s99" "$sratio"
  printf '| raw SQLite commits (WAL, synchronous=FULL, 1 row each) | %.0f | %.3f | %.3f | 1.00 |\n' "$cps" "$c50" "$c99"
  echo
  echo "Goal (issue 9): pairs/s ≥ 5× the raw commit rate and pair p99 ≤ 20 ms — **$met**" \
    "(${ratio}×, p99 $(printf '%.3f' "$p99") ms; acquire p99 $(printf '%.3f' "$acq99") ms)."
  echo
  echo "Per run: lease pairs/s ${L_PAIRS[*]}; with --spin ${S_PAIRS[*]}; raw commits/s ${R_CPS[*]}"
  echo
  echo "With \`--spin\` the generator polls instead of sleeping in epoll_wait, so the server's answers" \
    "do not pay for waking it (an inter-processor interrupt per answer on this VM) — as in the GET" \
    "runs, where wrk is busy. The goal is judged on the first row."
  if ((${#warnings[@]})); then
    echo
    echo "Warnings:"
    printf -- '- %s\n' "${warnings[@]}"
  fi
  echo
  echo "Commands (ADMIN is a random 40-character key made per run; POOL the pool created by the script;" \
    "the port is a free one picked per run):"
  echo
  echo '```'
  echo "AGENTRY_BOOTSTRAP_ADMIN_KEY=\$ADMIN $(lease_q "${LEASE_AGENTRY_CMD[@]}")"
  echo "LEASE_LOAD_KEY=\$ADMIN $(lease_q "${LEASE_LOAD_CMD[@]:0:6}") --pool \$POOL $(lease_q "${LEASE_LOAD_CMD[@]:8}") --duration $DURATION [--spin]"
  echo "$(lease_q "${RAW_COMMIT_CMD[@]}") $DURATION"
  echo '```'
  echo "(warm-up runs: the same commands for ${WARMUP} s)"
  LEASE_SUMMARY=("$pairs" "$cps" "$ratio" "$p99" "$met" "$spairs" "$sratio")

  if [[ -n "$OUT_DIR" ]]; then
    mkdir -p "$OUT_DIR"
    cp "$TMP"/lease-*.txt "$TMP"/lease-*.txt.err "$TMP/leases/agentry.out" "$TMP/leases/agentry.err" "$OUT_DIR"/ 2>/dev/null || true
  fi
  stop_pid "$LEASE_AGENTRY_PID" agentry
  LEASE_AGENTRY_PID=""
}

if [[ "${1:-}" == leases ]]; then
  run_leases
  exit 0
fi

# `bash bench/run.sh cluster`: GET and lease pairs on three nodes on a
# throwaway PostgreSQL against one node on SQLite (bench/cluster_bench.py).
if [[ "${1:-}" == cluster ]]; then
  BUILD_DIR="${BUILD_DIR:-build}"
  cmake --build "$BUILD_DIR" --target agentry lease_load >&2 || die "build failed"
  exec bash "$ROOT/tests/pg/with_postgres.sh" python3 "$ROOT/bench/cluster_bench.py" --build "$BUILD_DIR"
fi

# `bash bench/run.sh scale`: 10,000 agents × 3 published versions on SQLite:
# start to ready and RSS with every agent cached (bench/agents_scale.py).
if [[ "${1:-}" == scale ]]; then
  BUILD_DIR="${BUILD_DIR:-build}"
  exec python3 "$ROOT/bench/agents_scale.py" --binary "$BUILD_DIR/agentry"
fi

# ---------------------------------------------------------------- agentry
ADMIN="$(python3 -c 'import secrets, string
a = string.ascii_letters + string.digits
print("".join(secrets.choice(a) for _ in range(40)))')"
AGENTRY_PORT="$(free_port)"
NGINX_PORT="$(free_port)"
while [[ "$NGINX_PORT" == "$AGENTRY_PORT" ]]; do NGINX_PORT="$(free_port)"; done

AGENTRY_CMD=(taskset -c "$SERVER_CPU" "$AGENTRY" serve --listen "127.0.0.1:$AGENTRY_PORT"
  --store "sqlite://$TMP/agentry.db" --log-level warn --threads 1
  --rate-limit 1000000000:1000000000)
# nginx's worker runs as an unprivileged user: let it traverse $TMP (not list it).
chmod 711 "$TMP"
(
  cd "$TMP"
  # No AGENTRY_* from the caller's environment (config file, Redis, workers…).
  while read -r v; do unset "$v"; done < <(compgen -e | grep '^AGENTRY_' || true)
  export AGENTRY_BOOTSTRAP_ADMIN_KEY="$ADMIN"
  exec "${AGENTRY_CMD[@]}" >"$TMP/agentry.out" 2>"$TMP/agentry.err"
) &
AGENTRY_PID=$!
AGENTRY_BASE="http://127.0.0.1:$AGENTRY_PORT"
wait_for_200 "$AGENTRY_BASE/healthz" "$AGENTRY_PID" agentry "$TMP/agentry.err"
log "agentry up on $AGENTRY_BASE (pid $AGENTRY_PID)"

cat >"$TMP/agent.json" <<'JSON'
{
  "name": "Customer Support Agent",
  "key": "agt_customer_support_001",
  "description": "Answers customer questions using the knowledge base.",
  "instructions": "You are a helpful customer support agent. Be concise, cite the knowledge base, and escalate when unsure.",
  "model": {"name": "gpt-4", "parameters": {"temperature": 0.1, "max_tokens": 1500, "top_p": 0.9}},
  "tools": {"mode": "native", "available": [{"id": "tol_knowledge_search", "argument_bindings": {"max_results": 10}}]},
  "first_step": {
    "type": "conversational",
    "instructions": [{"type": "inline", "name": "Session Context", "template_type": "velocity",
                      "template": "Priority: ${session.priority}."}],
    "output_parser": {"type": "default"}
  },
  "metadata": {"department": "customer_service"}
}
JSON
AUTH=(-H "Authorization: Bearer $ADMIN")
JSON_CT=(-H "Content-Type: application/json")

# Publishing checks references: the agent's tool must exist first.
code="$(http_code POST "$AGENTRY_BASE/v1/tools" "$TMP/tool.out" "${AUTH[@]}" "${JSON_CT[@]}" --data-binary \
  '{"id":"tol_knowledge_search","name":"Knowledge search","parameters":{"type":"object","properties":{"max_results":{"type":"integer"}}}}')"
[[ "$code" == 2?? ]] || { cat "$TMP/tool.out" >&2 2>/dev/null; echo >&2; die "POST /v1/tools answered $code"; }
code="$(http_code POST "$AGENTRY_BASE/v1/agents" "$TMP/create.out" "${AUTH[@]}" "${JSON_CT[@]}" --data-binary "@$TMP/agent.json")"
[[ "$code" == 2?? ]] || { cat "$TMP/create.out" >&2 2>/dev/null; echo >&2; die "POST /v1/agents answered $code"; }
code="$(http_code POST "$AGENTRY_BASE/v1/agents/$AGENT_KEY/publish" "$TMP/publish.out" "${AUTH[@]}" "${JSON_CT[@]}" --data-binary '{}')"
[[ "$code" == 2?? ]] || { cat "$TMP/publish.out" >&2 2>/dev/null; echo >&2; die "POST /v1/agents/$AGENT_KEY/publish answered $code"; }

AGENT_ID="$(sed -n 's/^{"id":"\([0-9a-f-]*\)".*/\1/p' "$TMP/create.out" | head -n1)"
[[ -n "$AGENT_ID" ]] || die "no agent id in the create answer: $(head -c 300 "$TMP/create.out")"

# The hot read path on each surface: the same agent, each surface's bytes.
SURFACES=(v1 vectara odeus)
declare -A PATH_OF=(
  [v1]="/v1/agents/$AGENT_KEY"
  [vectara]="/v2/agents/$AGENT_KEY"
  [odeus]="/agent/v1/get?agentId=$AGENT_ID"
)
mkdir -p "$TMP/www"
chmod 755 "$TMP/www"
declare -A BYTES_OF=()
for s in "${SURFACES[@]}"; do
  code="$(http_code GET "$AGENTRY_BASE${PATH_OF[$s]}" "$TMP/www/$s.json" "${AUTH[@]}")"
  [[ "$code" == 200 ]] || { cat "$TMP/www/$s.json" >&2 2>/dev/null; echo >&2; die "GET ${PATH_OF[$s]} answered $code"; }
  chmod 644 "$TMP/www/$s.json"
  BYTES_OF[$s]="$(wc -c <"$TMP/www/$s.json")"
done
log "agent published; GET bodies: v1 ${BYTES_OF[v1]}, vectara ${BYTES_OF[vectara]}, odeus ${BYTES_OF[odeus]} bytes"

# ---------------------------------------------------------------- nginx
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<NGINXCONF
daemon off;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  client_body_temp_path $TMP/nginx/client_body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { default_type application/json; root $TMP/www; }
  }
}
NGINXCONF
NGINX_CMD=(taskset -c "$SERVER_CPU" "$NGINX" -p "$TMP/nginx/" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf")
"$NGINX" -q -t -p "$TMP/nginx/" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" \
  || die "nginx rejected its configuration"
"${NGINX_CMD[@]}" >"$TMP/nginx/stdout.log" 2>&1 &
NGINX_PID=$!
NGINX_BASE="http://127.0.0.1:$NGINX_PORT"
wait_for_200 "$NGINX_BASE/v1.json" "$NGINX_PID" nginx "$TMP/nginx/error.log"
log "nginx up on $NGINX_BASE (pid $NGINX_PID)"

# ---------------------------------------------------------------- same bytes?
for s in "${SURFACES[@]}"; do
  code="$(http_code GET "$AGENTRY_BASE${PATH_OF[$s]}" "$TMP/check-agentry-$s.body" "${AUTH[@]}")"
  [[ "$code" == 200 ]] || die "agentry answered $code on GET ${PATH_OF[$s]}"
  code="$(http_code GET "$NGINX_BASE/$s.json" "$TMP/check-nginx-$s.body")"
  [[ "$code" == 200 ]] || die "nginx answered $code on GET /$s.json"
  cmp -s "$TMP/check-agentry-$s.body" "$TMP/check-nginx-$s.body" \
    || die "$s: agentry and nginx bodies differ"
done
log "both targets answer 200 with the same bytes on every surface"

# ---------------------------------------------------------------- wrk
# wrk_args TARGET SURFACE SECONDS: the wrk command for one run, one word per
# line (the key as $ADMIN when PRINTABLE is set).
wrk_args() {
  local target="$1" s="$2" secs="$3" key="$ADMIN"
  [[ -n "${PRINTABLE:-}" ]] && key='$ADMIN'
  printf '%s\n' taskset -c "$CLIENT_CPU" "$WRK" -t1 "-c$CONNECTIONS" "-d${secs}s" --latency
  if [[ "$target" == agentry ]]; then
    printf '%s\n' -H "Authorization: Bearer $key" "$AGENTRY_BASE${PATH_OF[$s]}"
  else
    printf '%s\n' "$NGINX_BASE/$s.json"
  fi
}

declare -A RPS=() P50=() P99=()
WARNINGS=()
SUMMARY=()  # one row per target of issue 9, printed last

# run_wrk TARGET SURFACE LABEL SECONDS: runs wrk, checks its output, records
# the numbers unless LABEL is "warmup".
run_wrk() {
  local target="$1" s="$2" label="$3" secs="$4" out cmd=()
  out="$TMP/wrk-$target-$s-$label.txt"
  mapfile -t cmd < <(wrk_args "$target" "$s" "$secs")
  # In the background, so that a signal to this script is handled at once
  # (bash defers traps while a foreground child runs).
  timeout $((secs + 60)) "${cmd[@]}" >"$out" 2>&1 &
  WRK_PID=$!
  local rc=0
  wait "$WRK_PID" || rc=$?
  WRK_PID=""
  if ((rc != 0)); then
    cat "$out" >&2
    die "wrk against $target $s ($label) failed (exit $rc)"
  fi
  if grep -q 'Non-2xx or 3xx responses' "$out"; then
    cat "$out" >&2
    die "wrk against $target $s ($label) saw non-2xx/3xx responses"
  fi
  if grep -q 'Socket errors' "$out"; then
    WARNINGS+=("$target $s $label: $(grep 'Socket errors' "$out" | sed 's/^ *//')")
  fi
  local rps p50 p99
  rps="$(awk '$1 == "Requests/sec:" { print $2 }' "$out")"
  p50="$(awk '$1 == "50%" { print $2; exit }' "$out")"
  p99="$(awk '$1 == "99%" { print $2; exit }' "$out")"
  [[ -n "$rps" && -n "$p50" && -n "$p99" ]] || { cat "$out" >&2; die "could not parse wrk output for $target $s ($label)"; }
  awk -v r="$rps" 'BEGIN { exit !(r > 0) }' || { cat "$out" >&2; die "wrk measured 0 requests/s against $target $s"; }
  p50="$(to_ms "$p50")" || die "unknown latency unit in '$p50'"
  p99="$(to_ms "$p99")" || die "unknown latency unit in '$p99'"
  log "$(printf '%-7s %-7s %-7s %12s req/s   p50 %9s ms   p99 %9s ms' "$target" "$s" "$label" "$rps" "$p50" "$p99")"
  [[ "$label" == warmup ]] && return 0
  RPS[$target:$s]+="$rps "; P50[$target:$s]+="$p50 "; P99[$target:$s]+="$p99 "
}

IDLE_BUSY="$(busy_percent)"
if ((IDLE_BUSY > 10)); then
  WARNINGS+=("the machine was ${IDLE_BUSY} % busy (other processes) just before the runs; expect noise")
  log "warning: the machine is ${IDLE_BUSY} % busy before the runs (other processes); numbers will be noisy"
fi
log "warm-up: ${WARMUP} s per target; then $ROUNDS round(s) of ${DURATION} s per target and surface, alternating"
for s in "${SURFACES[@]}"; do
  run_wrk agentry "$s" warmup "$WARMUP"
  run_wrk nginx "$s" warmup "$WARMUP"
done
for ((r = 1; r <= ROUNDS; r++)); do
  for s in "${SURFACES[@]}"; do
    run_wrk agentry "$s" "round$r" "$DURATION"
    run_wrk nginx "$s" "round$r" "$DURATION"
  done
done

# Still alive and still serving the same bytes after the load?
kill -0 "$AGENTRY_PID" 2>/dev/null || die "agentry died during the benchmark"
kill -0 "$NGINX_PID" 2>/dev/null || die "nginx died during the benchmark"
for s in "${SURFACES[@]}"; do
  code="$(http_code GET "$AGENTRY_BASE${PATH_OF[$s]}" "$TMP/after-$s.body" "${AUTH[@]}")"
  if [[ "$code" != 200 ]] || ! cmp -s "$TMP/after-$s.body" "$TMP/www/$s.json"; then
    die "after the load agentry answered $code or a different body on ${PATH_OF[$s]}"
  fi
done

# ---------------------------------------------------------------- report
AFTER_BUSY="$(busy_percent)"
((AFTER_BUSY <= 10)) || WARNINGS+=("the machine was ${AFTER_BUSY} % busy (other processes) just after the runs; expect noise")

if GIT_REV="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"; then
  git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || GIT_REV="$GIT_REV (with uncommitted changes)"
else
  GIT_REV="unknown commit"
fi
CPU_MODEL="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"

echo
echo "## Hot read path: GET the agent $AGENT_KEY on each surface vs nginx serving the same bytes"
echo
echo "agentry $("$AGENTRY" --version 2>/dev/null | head -n1 | sed 's/^agentry //' || true) at $GIT_REV;" \
  "$("$NGINX" -v 2>&1 | sed 's/^nginx version: //');" \
  "$("$WRK" -v 2>&1 | head -n1 | awk '{ print $1, $2 }');" \
  "${CPU_MODEL:-unknown CPU}, $NCPU CPUs, Linux $(uname -r)."
echo "agentry (--threads 1) or nginx (1 worker) on CPU $SERVER_CPU; wrk on CPU $CLIENT_CPU: 1 thread," \
  "$CONNECTIONS connections, ${DURATION} s per run, $ROUNDS run(s) per target and surface" \
  "(alternating, after a ${WARMUP} s warm-up each); medians over the runs."
echo
echo "| path | body bytes | agentry req/s | p50 ms | p99 ms | nginx req/s | p50 ms | p99 ms | agentry/nginx |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for s in "${SURFACES[@]}"; do
  # shellcheck disable=SC2086
  a_rps="$(median ${RPS[agentry:$s]})"; a_50="$(median ${P50[agentry:$s]})"; a_99="$(median ${P99[agentry:$s]})"
  # shellcheck disable=SC2086
  n_rps="$(median ${RPS[nginx:$s]})"; n_50="$(median ${P50[nginx:$s]})"; n_99="$(median ${P99[nginx:$s]})"
  ratio="$(awk -v a="$a_rps" -v n="$n_rps" 'BEGIN { printf "%.2f", a / n }')"
  shown="${PATH_OF[$s]/$AGENT_ID/<id>}"
  printf '| `GET %s` | %s | %.0f | %.3f | %.3f | %.0f | %.3f | %.3f | **%s** |\n' \
    "$shown" "${BYTES_OF[$s]}" "$a_rps" "$a_50" "$a_99" "$n_rps" "$n_50" "$n_99" "$ratio"
  get_met="not met"
  awk -v a="$a_rps" -v n="$n_rps" -v p="$a_99" 'BEGIN { exit !(a >= n && p <= 1.0) }' && get_met="met"
  SUMMARY+=("$(printf '| `GET %s`, 32 connections | %.0f req/s = **%s×** nginx (%.0f), p99 %.3f ms | ≥ 1.0× nginx, p99 ≤ 1 ms | %s |' \
    "$shown" "$a_rps" "$ratio" "$n_rps" "$a_99" "$get_met")")
  # shellcheck disable=SC2086
  w="$(spread "agentry $s" ${RPS[agentry:$s]})"; [[ -z "$w" ]] || WARNINGS+=("$w")
  # shellcheck disable=SC2086
  w="$(spread "nginx $s" ${RPS[nginx:$s]})"; [[ -z "$w" ]] || WARNINGS+=("$w")
done
echo
for s in "${SURFACES[@]}"; do
  echo "Per run (requests/s), $s: agentry ${RPS[agentry:$s]}; nginx ${RPS[nginx:$s]}"
done
if ((${#WARNINGS[@]})); then
  echo
  echo "Warnings:"
  printf -- '- %s\n' "${WARNINGS[@]}"
fi

q() { printf '%q ' "$@" | sed 's/ $//'; }
echo
echo "Commands (ADMIN is a random 40-character key made per run; the ports are free ones picked per run):"
echo
echo '```'
echo "AGENTRY_BOOTSTRAP_ADMIN_KEY=\$ADMIN $(q "${AGENTRY_CMD[@]}")"
echo "$(q "${NGINX_CMD[@]}")   # config: bench/run.sh, serves each GET body from $TMP/www/<surface>.json"
for s in "${SURFACES[@]}"; do
  for t in agentry nginx; do
    mapfile -t words < <(PRINTABLE=1 wrk_args "$t" "$s" "$DURATION")
    q "${words[@]}"; echo
  done
done
echo '```'
echo "(warm-up runs: the same wrk commands with -d${WARMUP}s)"

# ---------------------------------------------------------------- leases (full run)
# The read-path servers are idle now; stop them so that CPU 0 is the lease
# server's alone, then run the lease benchmark (see run_leases above).
stop_pid "$AGENTRY_PID" agentry; AGENTRY_PID=""
stop_pid "$NGINX_PID" nginx; NGINX_PID=""
run_leases

# ---------------------------------------------------------------- one table
# The other two targets of issue 9, then every target in one table.
log "scale: 10,000 agents x 3 published versions (bench/agents_scale.py)"
SCALE_JSON="$TMP/scale.json"
SCALE_OUT="$(python3 "$ROOT/bench/agents_scale.py" --binary "$AGENTRY" --summary "$SCALE_JSON")" \
  || log "warning: agents_scale.py reports a missed goal"
log "callgrind: instructions per GET (tests/perf/callgrind_get.py)"
CG_OUT="$(python3 "$ROOT/tests/perf/callgrind_get.py" --binary "$AGENTRY" 2>&1)" \
  || log "warning: callgrind_get.py reports a regression"
echo
echo "## 10,000 agents × 3 published versions"
echo
echo "$SCALE_OUT"
echo
echo "## Issue 9's targets, one table"
echo
echo "| path | measured (medians) | goal | |"
echo "|---|---|---|---|"
printf '%s\n' "${SUMMARY[@]}"
printf '| acquire + release, exclusive pool of 128, 32 connections | %.0f pairs/s = **%s×** raw commits (%.0f/s), pair p99 %.3f ms; %.0f pairs/s = %s× with `--spin` | ≥ 5× raw commits, p99 ≤ 20 ms | %s |\n' \
  "${LEASE_SUMMARY[0]}" "${LEASE_SUMMARY[2]}" "${LEASE_SUMMARY[1]}" "${LEASE_SUMMARY[3]}" "${LEASE_SUMMARY[5]}" "${LEASE_SUMMARY[6]}" "${LEASE_SUMMARY[4]}"
python3 - "$SCALE_JSON" <<'SUMMARYPY'
import json, sys
try:
    s = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    print("| 10,000 agents × 3 versions loaded | (agents_scale.py failed) | RSS ≤ 256 MiB; start to ready ≤ 2 s | not met |")
    sys.exit(0)
met = "met" if s["ok"] else "not met"
print(f"| {s['agents']:,} agents × {s['versions']} versions loaded | RSS {s['rss_mib']:.0f} MiB with all cached; "
      f"start to ready {s['start_s'] * 1000:.0f} ms | RSS ≤ 256 MiB; start to ready ≤ 2 s | {met} |")
SUMMARYPY
CG_ROWS="$(awk '$1 ~ /^(v1|vectara|odeus)$/ { printf "%s %s, ", $1, $2 }' <<<"$CG_OUT" | sed 's/, $//')"
CG_MET="recorded"
grep -q "REGRESSION\|no baseline" <<<"$CG_OUT" && CG_MET="regressed"
echo "| instructions per GET (callgrind, 1000 requests) | ${CG_ROWS:-(callgrind_get.py failed)} | recorded; \`make test\` fails at +25 % over the baseline | $CG_MET |"
