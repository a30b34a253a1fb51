#!/usr/bin/env bash
# A second ingest on the same database exits 75 while the lock is held.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cli_setup "$@"

# Hold flock(2) on <db>.lock in one background process (flock(1) on fd 9,
# then exec sleep keeps the fd, so killing that pid releases the lock), and
# wait until it is taken.
bash -c 'exec 9>"$1"; flock -w 10 9 && exec sleep 60' _ "$db.lock" &
CLEANUP_PIDS+=($!)
holder=$!
for _ in $(seq 50); do
  flock -n "$db.lock" true 2>/dev/null || break
  sleep 0.1
done
flock -n "$db.lock" true 2>/dev/null && fail "test setup: background flock never took $db.lock"

expect_exit 75 dq ingest "$DATA/basic.xml"
expect_contains "stderr" "another ingest is running" "$err"
expect_eq "stdout" "" "$out"
expect_no_file "$db"   # nothing was written while locked

kill "$holder"
wait "$holder" 2>/dev/null || true
expect_exit 0 dq ingest "$DATA/basic.xml"
expect_exit 0 dq reports --format csv
expect_eq "reports after the lock was released" 1 "$(csv_rows "$out")"

echo ok
