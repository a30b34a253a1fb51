#!/usr/bin/env bash
# Crash safety of IMAP ingest against a real Dovecot: 2,000 report e-mails
# (dmarq-gen) in INBOX are ingested with `dmarq ingest --imap` while the
# ingest is killed with SIGKILL at random moments, at least 100 times, then
# allowed to finish. Afterwards the database holds exactly what one
# uninterrupted ingest of the same messages stores (messages, reports,
# records, sum of counts: 0 lost, 0 duplicated), `PRAGMA integrity_check` is
# ok, INBOX is empty and the processed folder holds all 2,000 messages, each
# once. Only 127.0.0.1 is used.
# Usage: crash.sh DMARQ TESTS_DATA_DIR DMARQ_GEN  (CTest label "long")
# DMARQ_CRASH_SEED=N repeats a run's random delays (the seed is printed);
# DMARQ_CRASH_TRACE=1 prints one line per kill cycle on stderr.
set -euo pipefail
(($# == 3)) || { echo "usage: $0 DMARQ_BINARY TESTS_DATA_DIR DMARQ_GEN" >&2; exit 1; }
GEN=$3
set -- "$1" "$2"
here=$(dirname "$0")
source "$here/../cli/lib.sh"
source "$here/lib.sh"
source "$here/common.sh"
cli_setup "$@"
[[ -x "$GEN" ]] || fail "not an executable: $GEN"

MESSAGES=2000
MIN_KILLS=100       # SIGKILLs that must hit a running ingest
TARGET_KILLS=120    # the loop aims for this many (margin over MIN_KILLS)
MAX_CYCLES=600      # bound on the loop whatever happens
# Kill timing is random by nature; the seed only makes the delays repeatable.
seed=${DMARQ_CRASH_SEED:-$$}
RANDOM=$seed

# ms_now: wall clock in milliseconds.
ms_now() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
# sleep_ms N
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
# totals DB: what the store holds, one line; equal lines = nothing lost or
# duplicated at any level (message, report, record, per-record results).
totals() {
  sqlite3 "$1" "SELECT
    'messages=' || (SELECT count(*) FROM message) ||
    ' ok=' || (SELECT count(*) FROM message WHERE outcome = 'ok') ||
    ' reports=' || (SELECT count(*) FROM report) ||
    ' report_sources=' || (SELECT count(*) FROM report_source) ||
    ' records=' || (SELECT count(*) FROM record) ||
    ' record_count=' || (SELECT coalesce(sum(record_count), 0) FROM report) ||
    ' count=' || (SELECT coalesce(sum(count), 0) FROM record) ||
    ' message_count=' || (SELECT coalesce(sum(message_count), 0) FROM report) ||
    ' dkim=' || (SELECT count(*) FROM dkim_result) ||
    ' spf=' || (SELECT count(*) FROM spf_result) ||
    ' rejects=' || (SELECT count(*) FROM rejected_input)"
}
# committed: messages stored so far. Read-only, so that it never checkpoints
# or removes the WAL a killed ingest left behind: the next ingest finds the
# database exactly as the kill left it. A reader can find the database
# locked for a moment while the ingest writes: it retries.
committed() {
  local n
  for _ in $(seq 50); do
    [[ -s "$db" ]] || { echo 0; return 0; }  # killed before it made the database
    if n=$(sqlite3 -readonly -cmd '.timeout 2000' "$db" 'SELECT count(*) FROM message' 2>"$work/committed.err"); then
      echo "$n"
      return 0
    fi
    # Killed before the schema was committed.
    if grep -q 'no such table: message' "$work/committed.err"; then echo 0; return 0; fi
    sleep 0.05
  done
  fail "cannot read $db: $(cat "$work/committed.err")"
}

ingest_pid=""
kill_ingest() { [[ -z "$ingest_pid" ]] || kill -KILL "$ingest_pid" 2>/dev/null || true; }
CLEANUP_HOOKS=(kill_ingest "${CLEANUP_HOOKS[@]}")

t_start=$(ms_now)
imap_certs "$work/certs"
dovecot_start good .

# --- the messages and the reference ------------------------------------------
gen=$work/gen
"$GEN" --out "$gen" --messages "$MESSAGES" --seed 11 --quiet >"$work/gen.out" ||
  fail "dmarq-gen failed: $(cat "$work/gen.out")"
gen_summary=$(cat "$work/gen.out")
# "messages=2000 reports=2000 records=N ...": an oracle independent of dmarq.
gen_records=$(sed -n 's/.*records=\([0-9]*\).*/\1/p' <<<"$gen_summary")
[[ "$gen_records" =~ ^[0-9]+$ ]] || fail "cannot read dmarq-gen's summary: [$gen_summary]"
expect_eq "messages generated" "$MESSAGES" "$(count_files "$gen/new")"
grep -h -i -m1 '^message-id:' "$gen"/new/* | sed 's/^[^:]*: *//' | tr -d '\r' | sort >"$work/ids.want"
expect_eq "distinct generated Message-IDs" "$MESSAGES" "$(sort -u "$work/ids.want" | wc -l)"
dovecot_deliver "$gen"/new/*
expect_eq "INBOX before the ingest" "$MESSAGES" "$(dovecot_folder_count INBOX)"

# Reference: one uninterrupted Maildir ingest of the same messages (the
# generated files, which the deliver above copied into Dovecot).
ref_db=$work/ref.sqlite
t0=$(ms_now)
expect_exit 0 "$DMARQ" --db "$ref_db" ingest --no-progress --maildir "$gen"
ref_ms=$(($(ms_now) - t0))
want=$(totals "$ref_db")
expect_eq "reference totals vs dmarq-gen" \
  "messages=$MESSAGES ok=$MESSAGES reports=$MESSAGES report_sources=$MESSAGES records=$gen_records record_count=$gen_records" \
  "${want%% count=*}"

# --- kill -9 at random moments ---------------------------------------------
# Each cycle writes the account with a batch size drawn from 1..200 (moves
# happen between batches: 1 moves after every message, 200 leaves up to 200
# committed messages in INBOX for the rerun to recognise and move), starts
# the ingest and kills it. One cycle in eight kills during the start-up:
# after a random delay within the time a run takes to commit its first
# message (process start, database open and recovery, lock, TLS, login,
# SELECT, SEARCH, FETCH, the messages an earlier run committed but did not
# move). Every other cycle waits until the run has committed a message of
# its own, then kills it after a further random delay in 0..span ms:
# mid-FETCH, mid-message, mid-commit, mid-MOVE. `span` steers itself so
# that the kills spread over the first 80% of the mailbox (each cycle it
# grows by a tenth when the cycle stored fewer messages than that pace needs,
# else shrinks by a tenth): the kills land at every depth, on a fast or a
# slow machine alike, and INBOX is not emptied before they are done. The
# rest is left for the final, uninterrupted run.
batch_sizes=(1 5 20 50 50 200)
cfg() {
  imap_config t "host=\"localhost\"" "port=$IMAPS_PORT" "ca_file=\"$IMAP_CA\"" "batch_size=$1" \
    "processed_folder=\"dmarc/done\"" "invalid_folder=\"dmarc/bad\"" "timeout_seconds=10"
}
# running PID: true while PID has not exited (a zombie has).
running() {
  local line
  read -r line 2>/dev/null <"/proc/$1/stat" || return 1
  line=${line##*) }
  [[ ${line%% *} != Z ]]
}
span=50 startup_ms=100
kills=0 cycles=0 progressed=0 drained=0 startup_kills=0
depths=() spans=()
n_done=0
t_loop=$(ms_now)
while ((kills < TARGET_KILLS && cycles < MAX_CYCLES)); do
  cycles=$((cycles + 1))
  before=$n_done
  batch=${batch_sizes[RANDOM % ${#batch_sizes[@]}]}
  cfg "$batch"
  # dmarq itself in the background, not ingest_imap: $! must be dmarq's pid,
  # not that of a subshell around it.
  "$DMARQ" --db "$db" --config "$work/cfg.toml" ingest --imap t --no-progress \
    >"$work/cycle.out" 2>"$work/cycle.err" &
  ingest_pid=$!
  t0=$(ms_now)
  if ((RANDOM % 8 == 0)); then
    kind=startup
    delay=$((RANDOM % (startup_ms + 1)))
    sleep_ms "$delay"
  else
    kind=work
    while running "$ingest_pid"; do
      n_done=$(committed)
      ((n_done <= before)) || break
      (($(ms_now) - t0 < 60000)) || fail "cycle $cycles: no message stored within 60 s"
      sleep 0.005
    done
    startup_ms=$(((3 * startup_ms + $(ms_now) - t0) / 4))
    delay=$((RANDOM % (span + 1)))
    sleep_ms "$delay"
  fi
  kill -KILL "$ingest_pid" 2>/dev/null || true
  set +e
  wait "$ingest_pid" 2>/dev/null
  rc=$?
  set -e
  ingest_pid=""
  case $rc in
    137) kills=$((kills + 1)) ;; # SIGKILL hit a running ingest
    0) drained=1 ;;              # it finished before the kill
    *) fail "cycle $cycles ($kind, batch $batch, delay ${delay} ms): ingest exited $rc; stderr: $(cat "$work/cycle.err")" ;;
  esac
  n_done=$(committed)
  ((n_done >= before)) || fail "cycle $cycles: stored messages went down from $before to $n_done"
  if ((n_done > before)); then progressed=$((progressed + 1)); fi
  if ((rc == 137)); then
    depths+=("$n_done")
    if [[ $kind == startup ]]; then startup_kills=$((startup_kills + 1)); fi
  fi
  if [[ -n "${DMARQ_CRASH_TRACE:-}" ]]; then
    echo "cycle $cycles: $kind, batch $batch, delay $delay ms, exit $rc, $n_done done, span $span, start-up $startup_ms ms" >&2
  fi
  if ((drained)); then break; fi
  if [[ $kind == work ]] && ((kills < TARGET_KILLS)); then
    if (((n_done - before) * (TARGET_KILLS - kills) < MESSAGES * 8 / 10 - n_done)); then
      span=$((span * 11 / 10 + 1))
    else
      span=$((span * 9 / 10))
    fi
    ((span >= 5)) || span=5
    ((span <= 10000)) || span=10000
    spans+=("$span")
  fi
done
loop_ms=$(($(ms_now) - t_loop))
((kills >= MIN_KILLS)) ||
  fail "only $kills SIGKILLs hit a running ingest in $cycles cycles (drained=$drained, $n_done of $MESSAGES stored); test is void"
# Most kills must have let some messages through first, or the loop only
# tested start-up.
((progressed * 2 > kills)) || fail "only $progressed of $cycles cycles stored any message; test is void"
inbox_left=$(dovecot_folder_count INBOX)

# --- let it finish -------------------------------------------------------------
cfg 50
expect_exit 0 ingest_imap t --no-progress

# --- the checks ------------------------------------------------------------------
expect_eq "totals after $kills kills (reference: an uninterrupted ingest)" "$want" "$(totals "$db")"
expect_eq "duplicated reports" 0 "$(sql 'SELECT count(*) FROM (SELECT 1 FROM report
  GROUP BY org_name, report_id, policy_domain, begin_ts, end_ts HAVING count(*) > 1)')"
expect_eq "messages stored twice" 0 "$(sql 'SELECT count(*) FROM (SELECT 1 FROM message GROUP BY sha256 HAVING count(*) > 1)')"
# Every report's records are its own id range, complete.
expect_eq "reports with a broken record range" 0 "$(sql 'SELECT count(*) FROM report r WHERE r.record_count <>
  (SELECT count(*) FROM record WHERE id BETWEEN r.first_record AND r.first_record + r.record_count - 1
   AND report_id = r.id)')"
# Every stored message came from this account's INBOX, each UID once.
expect_eq "distinct origins (UIDs)" "$MESSAGES" "$(sql "SELECT count(DISTINCT origin) FROM message WHERE origin LIKE 'imap://tester@localhost:$IMAPS_PORT/INBOX;UIDVALIDITY=%'")"
expect_eq "PRAGMA integrity_check" ok "$(sql 'PRAGMA integrity_check')"
expect_eq "PRAGMA foreign_key_check" "" "$(sql 'PRAGMA foreign_key_check')"
expect_eq "INBOX emptied" 0 "$(dovecot_folder_count INBOX)"
expect_eq "messages in the processed folder" "$MESSAGES" "$(dovecot_folder_count dmarc.done)"
expect_eq "messages in the invalid folder" 0 "$(dovecot_folder_count dmarc.bad)"
# Each generated message exactly once in the processed folder (none moved
# twice, none lost from the server), by Message-ID.
dovecot_message_ids dmarc.done | tr -d '\r' | sort >"$work/ids.got"
cmp -s "$work/ids.want" "$work/ids.got" ||
  fail "Message-IDs in the processed folder differ from the generated ones: $(diff "$work/ids.want" "$work/ids.got" | head -5)"

mapfile -t sorted < <(printf '%s\n' "${depths[@]}" | sort -n)
mapfile -t spans < <(printf '%s\n' "${spans[@]}" | sort -n)
echo "imap crash: $kills SIGKILLs of a running ingest ($startup_kills in its start-up) in $cycles cycles ($progressed stored messages;" \
  "killed with ${sorted[0]}..${sorted[${#sorted[@]} / 2]}..${sorted[-1]} of $MESSAGES stored," \
  "$inbox_left in INBOX for the final run); span ${spans[0]}..${spans[-1]} ms, seed $seed;" \
  "reference ingest ${ref_ms} ms, kill loop ${loop_ms} ms, total $((($(ms_now) - t_start) / 1000)) s"
echo ok
