#!/usr/bin/env bash
# Maildir ingest: messages move to .Processed/.Invalid only after commit,
# nothing is lost, plain PATH inputs are never moved.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cli_setup "$@"

md=$work/Maildir
mkdir -p "$md/new" "$md/cur" "$md/tmp"
cp "$DATA/basic-multipart.eml" "$md/new/1000.a.host"
cp "$DATA/dmarcbis.xml" "$md/new/1001.b.host"
cp "$DATA/truncated.xml" "$md/cur/1002.c.host:2,"

expect_exit 1 dq ingest --maildir "$md"
expect_eq "stderr lines" 1 "$(printf '%s\n' "$err" | grep -c '^dmarq: rejected')"
expect_contains "stderr names the reject" "1002.c.host" "$err"

expect_file "$md/.Processed/cur/1000.a.host:2,S"
expect_file "$md/.Processed/cur/1001.b.host:2,S"
expect_file "$md/.Invalid/cur/1002.c.host:2,"   # already had ":2," info
expect_eq "files left in new/" 0 "$(count_files "$md/new")"
expect_eq "files left in cur/" 0 "$(count_files "$md/cur")"
expect_eq "files under the Maildir" 3 "$(count_files "$md")"
cmp -s "$DATA/dmarcbis.xml" "$md/.Processed/cur/1001.b.host:2,S" || fail "moved message content changed"

expect_exit 0 dq reports --format csv
expect_eq "report rows" 2 "$(csv_rows "$out")"
expect_exit 0 dq rejects --format csv
expect_eq "reject rows" 1 "$(csv_rows "$out")"
expect_contains "reject origin" "1002.c.host" "$out"

# A file given as PATH stays where it is.
cp "$DATA/basic.xml" "$work/plain.xml"
expect_exit 0 dq ingest "$work/plain.xml"
expect_file "$work/plain.xml"
cmp -s "$DATA/basic.xml" "$work/plain.xml" || fail "PATH input was modified"

# Commit before move: when the database cannot be opened, nothing moves.
sed "s/bis-42/bis-43/" "$DATA/dmarcbis.xml" >"$md/new/2000.d.host"  # a new report
touch "$work/notadir"
expect_exit 2 "$DMARQ" --db "$work/notadir/db.sqlite" ingest --maildir "$md"
expect_file "$md/new/2000.d.host"
expect_eq "files in .Processed after failed ingest" 2 "$(count_files "$md/.Processed")"

# Same when the database opens but refuses the write mid-ingest.
sqlite3 "$db" "CREATE TRIGGER no_reports BEFORE INSERT ON report BEGIN SELECT RAISE(ABORT, 'test: no writes'); END;"
expect_exit 2 dq ingest --maildir "$md"
expect_contains "stderr" "test: no writes" "$err"
expect_file "$md/new/2000.d.host"
expect_eq "files in .Processed after failed write" 2 "$(count_files "$md/.Processed")"
sqlite3 "$db" "DROP TRIGGER no_reports;"
expect_exit 0 dq ingest --maildir "$md"
expect_file "$md/.Processed/cur/2000.d.host:2,S"

echo ok
