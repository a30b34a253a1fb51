#!/usr/bin/env bash
# Moving after commit against a real Dovecot: processed and invalid folders
# with the hierarchy delimiter "." and "/", a message above the size limit
# set aside without being downloaded, an idempotent rerun, and a kill -9
# in the middle of a batch followed by a rerun: 0 reports lost, 0 duplicated.
set -euo pipefail
here=$(dirname "$0")
source "$here/../cli/lib.sh"
source "$here/lib.sh"
source "$here/common.sh"
cli_setup "$@"
imap_certs "$work/certs"
make_reports "$work/mail" 20 f
printf 'From: a@example.net\r\nSubject: not a report\r\n\r\nhello\r\n' >"$work/junk.eml"
# Above the 48 MiB message limit: set aside by its RFC822.SIZE, never
# downloaded, and the run goes on.
python3 -c 'import sys; sys.stdout.buffer.write(b"From: a@example.net\r\nSubject: far too large\r\n\r\n" + (b"a" * 70 + b"\r\n") * ((49 << 20) // 72))' >"$work/big.eml"

for sep in . /; do
  rm -f "$db"*
  dovecot_start good "$sep"
  dovecot_deliver "$work"/mail/*.eml "$work/junk.eml" "$work/big.eml"
  imap_config t "host=\"localhost\"" "port=$IMAPS_PORT" "ca_file=\"$IMAP_CA\"" "batch_size=7" \
    "processed_folder=\"dmarc/done\"" "invalid_folder=\"dmarc/bad\"" "timeout_seconds=10"
  expect_exit 1 ingest_imap t  # 1: the junk and the big message were rejected
  expect_contains "the reject names the message" "imap://tester@localhost:$IMAPS_PORT/INBOX;UIDVALIDITY=" "$err"
  expect_contains "the big message is rejected for its size" "(RFC822.SIZE), above the message size limit of 50331648; not downloaded" "$err"
  expect_eq "[$sep] reports" 20 "$(reports_in_db)"
  expect_eq "[$sep] INBOX emptied" 0 "$(dovecot_folder_count INBOX)"
  expect_eq "[$sep] processed" 20 "$(dovecot_folder_count "dmarc${sep}done")"
  expect_eq "[$sep] invalid" 2 "$(dovecot_folder_count "dmarc${sep}bad")"

  # Rerun with nothing new: nothing happens, exit 0.
  expect_exit 0 ingest_imap t
  # The same messages delivered again: duplicates, stored once, still moved.
  dovecot_deliver "$work"/mail/f-1.eml "$work"/mail/f-2.eml
  expect_exit 0 ingest_imap t
  expect_eq "[$sep] no duplicate reports" 20 "$(reports_in_db)"
  expect_eq "[$sep] duplicates moved too" 22 "$(dovecot_folder_count "dmarc${sep}done")"
  expect_eq "[$sep] INBOX empty again" 0 "$(dovecot_folder_count INBOX)"
done

# kill -9 in the middle of a batch: 1,000 messages in batches of 50; the run is
# killed once some reports are committed, then run again.
rm -f "$db"*
dovecot_start good .
make_reports "$work/many" 1000 k
dovecot_deliver "$work"/many/*.eml
imap_config t "host=\"localhost\"" "port=$IMAPS_PORT" "ca_file=\"$IMAP_CA\"" "batch_size=50" "timeout_seconds=10"
"$DMARQ" --db "$db" --config "$work/cfg.toml" ingest --imap t >/dev/null 2>"$work/killed.err" &
pid=$!
for _ in $(seq 1 200); do
  n=$(reports_in_db)
  ((n >= 60)) && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
kill -KILL "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
killed_at=$(reports_in_db)
((killed_at < 1000)) || fail "the run finished before it could be killed ($killed_at reports); test is void"
left=$(dovecot_folder_count INBOX)
((left > 0)) || fail "nothing left in INBOX after the kill; test is void"
expect_exit 0 ingest_imap t
expect_eq "after kill -9 and rerun: every report once" 1000 "$(reports_in_db)"
expect_eq "distinct report ids" 1000 "$(sqlite3 "$db" 'SELECT count(DISTINCT report_id) FROM report')"
expect_eq "INBOX emptied after the rerun" 0 "$(dovecot_folder_count INBOX)"
expect_eq "all 1000 processed" 1000 "$(dovecot_folder_count INBOX.Processed)"
echo "killed with $killed_at reports stored and $left messages in INBOX" >&2
