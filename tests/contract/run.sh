#!/usr/bin/env bash
# The contract suite of the compatible surfaces (node --test + ajv): installs
# its npm packages from package-lock.json when missing or stale, then runs
# every *.test.js against the binary given as $1 (or AGENTRY_BINARY).
set -euo pipefail
HERE="$(dirname "$0")"
if [[ $# -ge 1 ]]; then export AGENTRY_BINARY="$(realpath "$1")"; fi
cd "$HERE"
if [[ ! -d node_modules || package-lock.json -nt node_modules ]]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules
fi
exec node --test ./*.test.js
