#!/usr/bin/env bash
# Installs the Debian 12 packages Agentry needs to build, run and test.
# Idempotent and quiet when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev
  libsqlite3-dev sqlite3
  libpq-dev postgresql  # the PostgreSQL store: client library, server for tests
  # global rate limits (--redis): the client library, and a server for tests
  libhiredis-dev redis-server
  libsodium-dev
  # the server's allocator (docs/decisions.md: ~5 % more leases per second)
  libjemalloc-dev
  libspdlog-dev libfmt-dev
  libcli11-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev
  python3 curl procps
  # callgrind counts instructions per GET (tests/perf)
  valgrind
  # templates: Apache Velocity 1.7 as the differential oracle, a JDK to build
  # its tiny runner; clang + libFuzzer for fuzz/; Google Benchmark for bench/.
  velocity default-jre-headless default-jdk-headless
  clang libclang-rt-14-dev libbenchmark-dev
)

# Node.js and npm run the contract tests (tests/contract); a machine may have
# them outside dpkg already.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "installing: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
