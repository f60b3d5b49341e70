#!/usr/bin/env bash
# The integration suites that do not look inside a SQLite file, run with
# every server on its own PostgreSQL database (tests/pg/with_postgres.sh
# starts the PostgreSQL server; agentry_harness.py makes the databases).
# On PostgreSQL the lease suite runs in the shared-store mode: every grant,
# renewal and release decided in the database.
#   bash tests/integration/run_on_postgres.sh build/agentry
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BINARY="$(realpath "$1")"
export AGENTRY_TEST_BACKEND=postgres
failed=0
for t in agents tools registry leases compat openapi_compat; do
  echo "== test_$t.py on PostgreSQL"
  python3 "$HERE/test_$t.py" --binary "$BINARY" || failed=1
done
exit "$failed"
