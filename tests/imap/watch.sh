#!/usr/bin/env bash
# dmarq ingest --imap NAME --watch against a real Dovecot: new mail is
# ingested as it arrives (IDLE), and SIGTERM ends the run cleanly (exit 0,
# LOGOUT) with everything fetched committed and moved. Then 2,000 messages
# in one mailbox in one run.
set -euo pipefail
here=$(dirname "$0")
source "$here/../cli/lib.sh"
source "$here/lib.sh"
source "$here/common.sh"
cli_setup "$@"
imap_certs "$work/certs"
dovecot_start good .
make_reports "$work/mail" 6 w
imap_config t "host=\"localhost\"" "port=$IMAPS_PORT" "ca_file=\"$IMAP_CA\"" "timeout_seconds=10"

# wait_for N WHAT: until N reports are stored (15 s at most).
wait_for() {
  local want=$1
  for _ in $(seq 1 150); do
    [[ $(reports_in_db) -ge $want ]] && return 0
    sleep 0.1
  done
  fail "$2: expected $want reports, have $(reports_in_db); stderr: $(cat "$work/watch.err")"
}

dovecot_deliver "$work"/mail/w-1.eml "$work"/mail/w-2.eml
"$DMARQ" --db "$db" --config "$work/cfg.toml" ingest --imap t --watch >"$work/watch.out" 2>"$work/watch.err" &
pid=$!
CLEANUP_PIDS+=("$pid")
wait_for 2 "the first pass"
# New mail while it waits in IDLE.
dovecot_deliver "$work"/mail/w-3.eml
wait_for 3 "mail delivered during IDLE"
dovecot_deliver "$work"/mail/w-4.eml "$work"/mail/w-5.eml "$work"/mail/w-6.eml
wait_for 6 "a second delivery"
for _ in $(seq 1 50); do
  [[ $(dovecot_folder_count INBOX) == 0 ]] && break
  sleep 0.1
done
expect_eq "INBOX emptied while watching" 0 "$(dovecot_folder_count INBOX)"
logouts_before=$(grep -c "Logged out" "$DOVECOT_LOG" || true)
kill -TERM "$pid"
set +e
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "still running 10 s after SIGTERM"
wait "$pid"
rc=$?
set -e
expect_eq "exit after SIGTERM" 0 "$rc"
expect_eq "stderr of the watch" "" "$(cat "$work/watch.err")"
for _ in $(seq 1 20); do
  (($(grep -c "Logged out" "$DOVECOT_LOG" || true) > logouts_before)) && break
  sleep 0.1
done
(($(grep -c "Logged out" "$DOVECOT_LOG" || true) > logouts_before)) || fail "no LOGOUT after SIGTERM"
expect_eq "all processed" 6 "$(dovecot_folder_count INBOX.Processed)"

# 2,000 messages in one mailbox, one run.
rm -f "$db"*
make_reports "$work/bulk" 2000 b
dovecot_deliver "$work"/bulk/*.eml
expect_exit 0 ingest_imap t
expect_eq "2,000 reports" 2000 "$(reports_in_db)"
expect_eq "2,000 moved (and the 6 from before)" 2006 "$(dovecot_folder_count INBOX.Processed)"
expect_eq "INBOX empty" 0 "$(dovecot_folder_count INBOX)"
