#!/usr/bin/env bash
# mbox ingest: split on "From " lines, read-only, rejects name the message.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cli_setup "$@"

mbox=$work/reports.mbox
{
  echo "From x@y Mon Nov  2 00:00:00 2026"
  cat "$DATA/basic-multipart.eml"
  echo
  echo "From x@y Mon Nov  2 00:00:00 2026"
  printf 'From: a@b\nSubject: hi\n\nhello\n'
  echo
  echo "From x@y Mon Nov  2 00:00:00 2026"
  cat "$DATA/basic-forwarded.eml"
} >"$mbox"
before=$(sha256sum <"$mbox")

expect_exit 1 dq ingest --mbox "$mbox"
expect_eq "stderr lines" 1 "$(printf '%s\n' "$err" | wc -l)"
expect_contains "reject line" "dmarq: rejected $mbox#2" "$err"
expect_contains "reject reason" "no DMARC aggregate report" "$err"
expect_eq "mbox sha256 after ingest" "$before" "$(sha256sum <"$mbox")"

expect_exit 0 dq rejects --format csv
expect_eq "reject rows" 1 "$(csv_rows "$out")"
origin=$(printf '%s\n' "$out" | sed -n 2p | cut -d, -f2)
[[ "$origin" == *"#2" ]] || fail "reject origin: expected to end with #2, got [$origin]"
expect_eq "messages logged" 3 "$(sql 'SELECT count(*) FROM message')"

expect_exit 0 dq reports --format csv
expect_eq "report rows" 1 "$(csv_rows "$out")"
expect_contains "stored report" "r-20261101-0001@receiver.example" "$out"
expect_eq "report copies" 2 "$(sql 'SELECT count(*) FROM report_source')"

echo ok
