#!/usr/bin/env bash
# The same report in six wrappings is stored once; a rerun adds nothing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cli_setup "$@"

inputs=()
for f in basic.xml basic.xml.gz basic.zip basic-multipart.eml basic-whole-body.eml basic-forwarded.eml; do
  inputs+=("$DATA/$f")
done

expect_exit 0 dq ingest "${inputs[@]}"
expect_exit 0 dq reports --format csv
expect_eq "reports after first ingest" 1 "$(csv_rows "$out")"
expect_contains "stored report" "r-20261101-0001@receiver.example" "$out"
expect_eq "records after first ingest" 3 "$(sql 'SELECT count(*) FROM record')"
messages=$(sql 'SELECT count(*) FROM message')
expect_eq "messages after first ingest" 6 "$messages"

expect_exit 0 dq ingest "${inputs[@]}"
expect_exit 0 dq reports --format csv
expect_eq "reports after rerun" 1 "$(csv_rows "$out")"
expect_eq "records after rerun" 3 "$(sql 'SELECT count(*) FROM record')"
expect_eq "messages after rerun" "$messages" "$(sql 'SELECT count(*) FROM message')"

echo ok
