#!/usr/bin/env bash
# fuzz/run.sh — build Agentry's libFuzzer targets with clang and run them.
#
#   bash fuzz/run.sh                       # every target (fuzz/*_fuzz.cc), 30 s each
#   bash fuzz/run.sh --seconds 300 velocity
#   bash fuzz/run.sh --build-dir build/fuzz-build --build-only
#   bash fuzz/run.sh --no-build velocity   # what the CTest test fuzz_velocity runs
#
# For each target NAME (source fuzz/NAME_fuzz.cc, binary NAME_fuzz):
#   1. configure and build the fuzz tree (unless --no-build): clang++,
#      -DAGENTRY_FUZZ=ON, every library compiled with
#      -fsanitize=fuzzer-no-link,address,undefined; only the fuzz targets
#      are built;
#   2. replay every file in fuzz/regressions/NAME/ once — each must pass;
#   3. copy the seeds fuzz/corpus/NAME/ into a temporary working corpus and
#      fuzz for --seconds, with fuzz/dict/NAME.dict when it exists.
# Any crash, leak, UB report, timeout (-timeout) or out-of-memory
# (-rss_limit_mb) fails the run; the reproducer is kept under
# <build-dir>/artifacts/NAME/ and its path printed. Nothing is written into
# the source tree. See fuzz/README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ_DIR="$ROOT/fuzz"

BUILD_DIR="$ROOT/build/fuzz-build"
SECONDS_PER_TARGET=30
DO_BUILD=1
DO_RUN=1
MAX_LEN="${FUZZ_MAX_LEN:-4096}"      # bytes per input
RSS_LIMIT_MB="${FUZZ_RSS_LIMIT_MB:-2048}"
TIMEOUT_S="${FUZZ_TIMEOUT:-10}"       # per input
JOBS="${JOBS:-$(nproc)}"
TARGETS=()

die() { echo "fuzz: error: $*" >&2; exit 2; }
log() { echo "fuzz: $*" >&2; }

usage() {
  sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

while (($#)); do
  case "$1" in
    --build-dir) BUILD_DIR="${2:?--build-dir needs a directory}"; shift 2 ;;
    --seconds) SECONDS_PER_TARGET="${2:?--seconds needs a number}"; shift 2 ;;
    --build-only) DO_RUN=0; shift ;;
    --no-build) DO_BUILD=0; shift ;;
    -h | --help) usage 0 ;;
    -*) echo "fuzz: unknown option $1" >&2; usage 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
[[ "$SECONDS_PER_TARGET" =~ ^[1-9][0-9]*$ ]] || die "--seconds must be a positive integer"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$PWD/$BUILD_DIR"

if ((${#TARGETS[@]} == 0)); then
  for f in "$FUZZ_DIR"/*_fuzz.cc; do
    [[ -e "$f" ]] || continue
    f="${f##*/}"
    TARGETS+=("${f%_fuzz.cc}")
  done
fi
((${#TARGETS[@]})) || die "no fuzz targets (fuzz/*_fuzz.cc)"
for t in "${TARGETS[@]}"; do
  [[ -f "$FUZZ_DIR/${t}_fuzz.cc" ]] || die "unknown target '$t' (no fuzz/${t}_fuzz.cc)"
done

# ---------------------------------------------------------------- build
if ((DO_BUILD)); then
  CXX_BIN="${FUZZ_CXX:-}"
  if [[ -z "$CXX_BIN" ]]; then
    for c in clang++ clang++-14; do
      if command -v "$c" >/dev/null 2>&1; then CXX_BIN="$(command -v "$c")"; break; fi
    done
  fi
  [[ -n "$CXX_BIN" ]] || die "clang++ not found: install clang and libclang-rt-14-dev (make deps)"
  command -v ninja >/dev/null 2>&1 || die "ninja not found (make deps)"
  CC_BIN="${CXX_BIN/clang++/clang}"   # for any C sources (bench/ has some)
  [[ -x "$CC_BIN" ]] || die "$CC_BIN not found next to $CXX_BIN"

  # Sanitizers for every translation unit; the fuzz executables add
  # -fsanitize=fuzzer at link time (fuzz/CMakeLists.txt). -O1 with asserts
  # on (no NDEBUG), line tables for symbolized reports.
  FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
  FLAGS+=" -fno-omit-frame-pointer"
  mkdir -p "$BUILD_DIR"
  log "configuring $BUILD_DIR ($("$CXX_BIN" --version | head -n1))"
  started=$SECONDS
  if ! cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja \
      -DCMAKE_CXX_COMPILER="$CXX_BIN" -DCMAKE_C_COMPILER="$CC_BIN" \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS="$FLAGS" -DCMAKE_C_FLAGS="$FLAGS" \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
      -DAGENTRY_FUZZ=ON >"$BUILD_DIR/configure.log" 2>&1; then
    cat "$BUILD_DIR/configure.log" >&2
    die "configuring the fuzz build failed"
  fi
  build_targets=()
  for t in "${TARGETS[@]}"; do build_targets+=("${t}_fuzz"); done
  log "building ${build_targets[*]} (-j $JOBS)"
  cmake --build "$BUILD_DIR" -j "$JOBS" --target "${build_targets[@]}"
  log "build done in $((SECONDS - started)) s"
fi
((DO_RUN)) || exit 0

# ---------------------------------------------------------------- run
WORK="$(mktemp -d "${TMPDIR:-/tmp}/agentry-fuzz.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
if [[ -z "${ASAN_SYMBOLIZER_PATH:-}" ]]; then
  for s in llvm-symbolizer llvm-symbolizer-14 /usr/lib/llvm-14/bin/llvm-symbolizer; do
    if command -v "$s" >/dev/null 2>&1; then
      export ASAN_SYMBOLIZER_PATH="$(command -v "$s")"
      break
    fi
  done
fi

failed=()
for t in "${TARGETS[@]}"; do
  bin="$BUILD_DIR/fuzz/${t}_fuzz"
  [[ -x "$bin" ]] || die "$bin not built (run without --no-build)"
  common=(-timeout="$TIMEOUT_S" -rss_limit_mb="$RSS_LIMIT_MB" -max_len="$MAX_LEN")
  dict="$FUZZ_DIR/dict/$t.dict"
  [[ -f "$dict" ]] && common+=(-dict="$dict")
  artifacts="$BUILD_DIR/artifacts/$t/$(date +%Y%m%d-%H%M%S)-$$"
  mkdir -p "$artifacts" "$BUILD_DIR/logs"

  # 1. Regressions: every kept reproducer must pass.
  regressions=()
  if [[ -d "$FUZZ_DIR/regressions/$t" ]]; then
    while IFS= read -r -d '' f; do regressions+=("$f"); done < <(
      find "$FUZZ_DIR/regressions/$t" -type f ! -name 'README*' ! -name '.*' -print0 | sort -z)
  fi
  if ((${#regressions[@]})); then
    rlogs="$BUILD_DIR/logs/$t-regressions"
    rm -rf "$rlogs"
    mkdir -p "$rlogs"
    bad=()
    for f in "${regressions[@]}"; do
      if ! "$bin" "${common[@]}" -artifact_prefix="$artifacts/" "$f" >"$rlogs/${f##*/}.log" 2>&1; then
        bad+=("$f")
      fi
    done
    if ((${#bad[@]})); then
      tail -n 40 "$rlogs/${bad[0]##*/}.log" >&2
      log "$t: FAILED: ${#bad[@]} of ${#regressions[@]} regression input(s) still fail:"
      for f in "${bad[@]}"; do
        why="$(grep -m1 -E '^SUMMARY: |ERROR: ' "$rlogs/${f##*/}.log" | sed 's/^==[0-9]*== *//' || true)"
        log "  $f: ${why:-failed}"
      done
      log "$t: replay one with: $bin ${bad[0]}  (logs: $rlogs/)"
      failed+=("$t")
      continue
    fi
    log "$t: ${#regressions[@]} regression input(s) pass"
  else
    log "$t: no regression inputs"
  fi

  # 2. Fuzz from the seeds, in a temporary corpus.
  corpus="$WORK/$t-corpus"
  mkdir -p "$corpus"
  if [[ -d "$FUZZ_DIR/corpus/$t" ]]; then
    cp -r "$FUZZ_DIR/corpus/$t/." "$corpus/"
  fi
  flog="$BUILD_DIR/logs/$t.log"
  cmd=("$bin" "${common[@]}" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1
       -artifact_prefix="$artifacts/" "$corpus")
  log "$t: fuzzing for ${SECONDS_PER_TARGET} s: ${cmd[*]}"
  rc=0
  "${cmd[@]}" >"$flog" 2>&1 || rc=$?
  seed="$(sed -n 's/^INFO: Seed: \([0-9]*\).*/\1/p' "$flog" | head -n1)"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$flog" | tail -n1)"
  eps="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$flog" | tail -n1)"
  done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$flog" | tail -n1 | sed 's/^#[0-9]*[[:space:]]*DONE[[:space:]]*//')"
  if ((rc != 0)); then
    tail -n 80 "$flog" >&2
    log "$t: FAILED (libFuzzer exit $rc, seed $seed); full log: $flog"
    for a in "$artifacts"/*; do
      [[ -e "$a" ]] || continue
      log "$t: reproducer: $a"
      log "$t:   replay: $bin $a"
      log "$t:   keep as a regression: cp $a $FUZZ_DIR/regressions/$t/"
    done
    failed+=("$t")
    continue
  fi
  rmdir "$artifacts" 2>/dev/null || true
  log "$t: ok: ${execs:-?} inputs in ${SECONDS_PER_TARGET} s (${eps:-?} exec/s), ${done_line:-no stats}, seed $seed; log: $flog"
done

if ((${#failed[@]})); then
  log "FAILED: ${failed[*]}"
  exit 1
fi
log "all passed: ${TARGETS[*]}"
