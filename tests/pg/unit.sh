#!/usr/bin/env bash
# The store's behavioural unit tests on PostgreSQL (issue 9): the Catch2
# cases tagged [backend] (store, rollups, ingester, pipeline, garbage,
# adversarial inputs, corpus conformance) run here against a private cluster
# on 127.0.0.1, each in a fresh schema (tests/support: TestDb), after they ran
# on SQLite in the ordinary unit run. The same cases, not copies.
# Usage: unit.sh DMARQ_TESTS WORK_DIR [TEST_SPEC]
set -euo pipefail
tests=$1 work=$2 spec=${3:-[backend]}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/pg/lib.sh
source "$here/lib.sh"

rm -rf "$work"
mkdir -p "$work"
trap 'pg_stop "$work/pg" >/dev/null 2>&1 || true' EXIT
pg_start "$work/pg"
url=$(pg_create_db units)

# A spec that matched nothing would pass silently: count the cases first.
count=$("$tests" --list-test-names-only "$spec" | grep -c . || true)
echo "pg: $count test cases match $spec"
((count >= 10)) || { echo "FAIL: expected the [backend] cases, found $count" >&2; exit 1; }

DMARQ_TEST_PG=$url "$tests" "$spec"

# Every schema a case made was dropped again.
left=$(pg_psql units -Atc "SELECT count(*) FROM pg_namespace WHERE nspname ~ '^t[0-9]+_[0-9]+$'")
[[ $left == 0 ]] || { echo "FAIL: $left test schemas were left behind" >&2; exit 1; }
echo "ok: no test schema left behind"
