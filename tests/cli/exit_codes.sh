#!/usr/bin/env bash
# Exit codes: 0 done, 1 some inputs rejected, 2 usage/environment error.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cli_setup "$@"

# Usage and environment errors: exit 2, a message, and no database created.
expect_exit 2 dq ingest
expect_contains "no inputs" "give at least one" "$err"
expect_exit 2 dq ingest "$work/no-such-file.xml"
expect_contains "nonexistent path" "no-such-file.xml" "$err"
mkdir "$work/notmaildir"
expect_exit 2 dq ingest --maildir "$work/notmaildir"
expect_contains "not a maildir" "not a Maildir" "$err"
expect_exit 2 dq ingest --no-such-option "$DATA/basic.xml"
expect_exit 2 dq --no-such-option
expect_exit 2 dq reports --format yaml
expect_no_file "$db"
expect_exit 2 dq reports
expect_contains "reports without a database" "no database" "$err"
expect_exit 2 dq export aggregate
expect_exit 2 dq rejects
expect_no_file "$db"

expect_exit 0 dq --help
expect_contains "--help" "ingest" "$out"
expect_exit 0 dq ingest --help
expect_contains "ingest --help" "--maildir" "$out"

# A good file: exit 0, silent.
expect_exit 0 dq ingest "$DATA/basic.xml"
expect_eq "stdout of a good ingest" "" "$out"
expect_eq "stderr of a good ingest" "" "$err"

# A rejected file: exit 1, exactly one line naming the file and the reason.
expect_exit 1 dq ingest "$DATA/doctype-bomb.xml"
expect_eq "stdout of a rejected ingest" "" "$out"
expect_eq "stderr lines" 1 "$(printf '%s\n' "$err" | wc -l)"
expect_contains "reject line" "dmarq: rejected $DATA/doctype-bomb.xml" "$err"
expect_contains "reject reason" "DOCTYPE" "$err"

# Good and bad together: 1, and the good one is stored anyway.
expect_exit 1 dq ingest "$DATA/not-feedback.xml" "$DATA/dmarcbis.xml"
expect_eq "stderr lines" 1 "$(printf '%s\n' "$err" | grep -c '^dmarq: rejected')"
expect_exit 0 dq reports --domain example.org --format csv
expect_eq "example.org reports" 1 "$(csv_rows "$out")"
expect_contains "stored report" "bis-42" "$out"

# Read commands on a database that does not exist: 2.
expect_exit 2 "$DMARQ" --db "$work/missing.sqlite" reports
expect_no_file "$work/missing.sqlite"

# -v prints a summary.
expect_exit 0 dq -v ingest "$DATA/basic.xml"
expect_contains "-v summary" "1 message(s)" "$err"
expect_contains "-v summary" "1 duplicate message(s)" "$err"

# The rejects table gives each reject two readable lines, with no escaped
# newline of our own (only report bytes are escaped).
expect_exit 0 dq rejects
expect_not_contains "rejects table" '\x0a' "$out"
expect_contains "rejects table" "doctype-bomb.xml" "$out"
expect_contains "rejects table" $'\n    xml.doctype: ' "$out"

# Bytes invalid in the declared encoding: one line of ours, none of libxml2's.
expect_exit 1 dq ingest "$DATA/bad-1252.xml"
expect_eq "stderr lines for a bad encoding" 1 "$(printf '%s\n' "$err" | wc -l)"
expect_contains "bad encoding reason" "cannot decode the document in its declared encoding" "$err"

echo ok
