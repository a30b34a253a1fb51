#!/usr/bin/env bash
# Output never depends on the local time zone or the locale: every time is
# UTC, and numbers and text are written the same under a Latin-1 locale with
# a decimal comma as under none.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cli_setup "$@"

# Zones a whole hour, half an hour and three quarters off UTC, on both sides
# of it, and one 14 hours ahead.
zones=(UTC America/Los_Angeles America/St_Johns Asia/Kathmandu Pacific/Kiritimati)

# A locale that is not UTF-8, built into the work directory (localedef comes
# with libc-bin; the locale sources with Debian's locales package).
locale_name=de_DE.ISO-8859-1
mkdir -p "$work/locale"
localedef -i de_DE -f ISO-8859-1 "$work/locale/$locale_name" 2>/dev/null ||
  fail "localedef could not build $locale_name (is Debian's locales package installed?)"
[[ $(LOCPATH=$work/locale LC_ALL=$locale_name locale charmap) == ISO-8859-1 ]] ||
  fail "$locale_name did not take effect"

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
dir=$work/out-latin1
(export LOCPATH=$work/locale TZ=America/St_Johns; export LC_ALL=$locale_name; outputs "$dir" "$db")
for f in "$work/out-unset"/*; do
  cmp -s "$f" "$dir/${f##*/}" || fail "LC_ALL=$locale_name: ${f##*/} differs from the C locale:
$(diff "$f" "$dir/${f##*/}" || true)"
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
LOCPATH=$work/locale LC_ALL=$locale_name TZ=Asia/Kathmandu "$DMARQ" --db "$work/latin1.sqlite" ingest "$DATA/basic.xml"
for fmt in csv json; do
  "$DMARQ" --db "$work/latin1.sqlite" export aggregate --format $fmt >"$work/latin1.$fmt"
  cmp -s "$work/latin1.$fmt" "$work/out-unset/export.$fmt" || fail "export --format $fmt differs for a DB ingested under $locale_name"
  "$DMARQ" --db "$work/east.sqlite" export aggregate --format $fmt >"$work/east.$fmt"
  "$DMARQ" --db "$work/west.sqlite" export aggregate --format $fmt >"$work/west.$fmt"
  cmp -s "$work/east.$fmt" "$work/west.$fmt" || fail "export --format $fmt differs between DBs ingested under different TZ"
  cmp -s "$work/east.$fmt" "$work/out-unset/export.$fmt" || fail "export --format $fmt differs from the first DB"
done

echo ok
