#!/usr/bin/env bash
# Output never depends on the local time zone: every time is UTC.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cli_setup "$@"

zones=(UTC America/Los_Angeles Asia/Kathmandu Pacific/Kiritimati)

# outputs DIR DB: writes every read command's output for DB into DIR.
outputs() {
  mkdir -p "$1"
  "$DMARQ" --db "$2" reports --format csv >"$1/reports.csv"
  "$DMARQ" --db "$2" reports --format json >"$1/reports.json"
  "$DMARQ" --db "$2" reports >"$1/reports.txt"
  "$DMARQ" --db "$2" reports --format csv --since 2026-11-01 >"$1/since-match.csv"
  "$DMARQ" --db "$2" reports --format csv --since 2026-11-02 >"$1/since-none.csv"
  "$DMARQ" --db "$2" export aggregate --format csv >"$1/export.csv"
  "$DMARQ" --db "$2" export aggregate --format json >"$1/export.json"
}

expect_exit 0 dq ingest "$DATA/basic.xml"
(unset TZ; outputs "$work/out-unset" "$db")
for tz in "${zones[@]}"; do
  dir=$work/out-${tz//\//_}
  TZ=$tz outputs "$dir" "$db"
  for f in "$work/out-unset"/*; do
    cmp -s "$f" "$dir/${f##*/}" || fail "TZ=$tz: ${f##*/} differs from unset TZ:
$(diff "$f" "$dir/${f##*/}" || true)"
  done
done

# The shared output is also the right one.
csv=$(cat "$work/out-unset/export.csv")
expect_contains "export begin_date" ",2026-11-01T00:00:00Z," "$csv"
expect_contains "export end_date" ",2026-11-01T23:59:59Z," "$csv"
expect_contains "reports csv" ",2026-11-01T00:00:00Z,2026-11-01T23:59:59Z," "$(cat "$work/out-unset/reports.csv")"
expect_contains "reports json" '"begin": "2026-11-01T00:00:00Z"' "$(cat "$work/out-unset/reports.json")"
expect_contains "reports table" "2026-11-01  2026-11-01" "$(cat "$work/out-unset/reports.txt")"
expect_eq "--since 2026-11-01 rows" 1 "$(csv_rows "$(cat "$work/out-unset/since-match.csv")")"
expect_eq "--since 2026-11-02 rows" 0 "$(csv_rows "$(cat "$work/out-unset/since-none.csv")")"

# Ingesting under different zones stores the same thing.
TZ=Pacific/Kiritimati "$DMARQ" --db "$work/east.sqlite" ingest "$DATA/basic.xml"
TZ=America/Los_Angeles "$DMARQ" --db "$work/west.sqlite" ingest "$DATA/basic.xml"
for fmt in csv json; do
  "$DMARQ" --db "$work/east.sqlite" export aggregate --format $fmt >"$work/east.$fmt"
  "$DMARQ" --db "$work/west.sqlite" export aggregate --format $fmt >"$work/west.$fmt"
  cmp -s "$work/east.$fmt" "$work/west.$fmt" || fail "export --format $fmt differs between DBs ingested under different TZ"
  cmp -s "$work/east.$fmt" "$work/out-unset/export.$fmt" || fail "export --format $fmt differs from the first DB"
done

echo ok
