#!/usr/bin/env bash
# Crash safety of Maildir ingest: a Maildir of 2,000 report e-mails
# (dmarq-gen) is ingested while the ingest is killed with SIGKILL at random
# moments, at least 100 times, then allowed to finish. Afterwards the
# database holds exactly what one uninterrupted ingest stores (messages,
# reports, records, sum of counts: 0 lost, 0 duplicated), every message
# exactly once by content, `PRAGMA integrity_check` is ok, and the Maildir's
# new/ and cur/ are empty with all 2,000 files, unchanged, in .Processed.
# Usage: crash.sh DMARQ TESTS_DATA_DIR DMARQ_GEN  (CTest label "long")
# DMARQ_CRASH_SEED=N repeats a run's random delays (the seed is printed);
# DMARQ_CRASH_TRACE=1 prints one line per kill cycle on stderr.
set -euo pipefail
(($# == 3)) || { echo "usage: $0 DMARQ_BINARY TESTS_DATA_DIR DMARQ_GEN" >&2; exit 1; }
GEN=$3
set -- "$1" "$2"
source "$(dirname "$0")/lib.sh"
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
# count_dir DIR: count_files DIR, 0 when DIR does not exist (yet).
count_dir() { if [[ -d "$1" ]]; then count_files "$1"; else echo 0; fi; }
# sleep_ms N
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
# file_hashes DIR: sorted sha256 of the content of every message file below DIR.
file_hashes() { find "$1" -type f ! -name maildirfolder -print0 | xargs -0 -r sha256sum | cut -d' ' -f1 | sort; }
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

ingest_pid=""
kill_ingest() { [[ -z "$ingest_pid" ]] || kill -KILL "$ingest_pid" 2>/dev/null || true; }
CLEANUP_HOOKS+=(kill_ingest)

t_start=$(ms_now)

# --- the corpus and the reference ------------------------------------------
ref=$work/ref
md=$work/Maildir
"$GEN" --out "$ref" --messages "$MESSAGES" --seed 7 --quiet >"$work/gen.out" ||
  fail "dmarq-gen failed: $(cat "$work/gen.out")"
gen_summary=$(cat "$work/gen.out")
# "messages=2000 reports=2000 records=N ...": an oracle independent of dmarq.
gen_records=$(sed -n 's/.*records=\([0-9]*\).*/\1/p' <<<"$gen_summary")
[[ "$gen_records" =~ ^[0-9]+$ ]] || fail "cannot read dmarq-gen's summary: [$gen_summary]"
expect_eq "messages generated" "$MESSAGES" "$(count_files "$ref")"
file_hashes "$ref" >"$work/hashes.want"
expect_eq "distinct messages generated" "$MESSAGES" "$(sort -u "$work/hashes.want" | wc -l)"
cp -a "$ref" "$md"

# Reference: one uninterrupted ingest of the pristine copy.
ref_db=$work/ref.sqlite
t0=$(ms_now)
expect_exit 0 "$DMARQ" --db "$ref_db" ingest --no-progress --maildir "$ref"
ref_ms=$(($(ms_now) - t0))
want=$(totals "$ref_db")
expect_eq "reference totals vs dmarq-gen" \
  "messages=$MESSAGES ok=$MESSAGES reports=$MESSAGES report_sources=$MESSAGES records=$gen_records record_count=$gen_records" \
  "${want%% count=*}"
expect_eq "reference: files left in new/" 0 "$(count_files "$ref/new")"
expect_eq "reference: files left in cur/" 0 "$(count_files "$ref/cur")"
expect_eq "reference: files in .Processed" "$MESSAGES" "$(count_files "$ref/.Processed")"

# --- kill -9 at random moments ---------------------------------------------
# One cycle in eight kills during the start-up: after a random delay within
# the time a run takes to move its first message (process start, database
# open and recovery, lock, Maildir scan, the first message). Every other
# cycle waits until the run has moved a message of its own, then kills it
# after a further random delay in 0..span ms: mid-message, mid-commit or
# between a commit and its move. `span` steers itself so that the kills
# spread over the first 80% of the mailbox (each cycle it grows by a tenth
# when the cycle moved fewer messages than that pace needs, else shrinks by
# a tenth): the kills land at every depth, on a fast or a slow (sanitizer,
# loaded CI) machine alike, and the mailbox is not emptied before they are
# done. The rest is left for the final, uninterrupted run.
shopt -s nullglob
# processed: sets n_done to the files in .Processed/cur (no fork: polled).
processed() {
  local f=("$md"/.Processed/cur/*)
  n_done=${#f[@]}
}
# running PID: true while PID has not exited (a zombie has).
running() {
  local line
  read -r line 2>/dev/null <"/proc/$1/stat" || return 1
  line=${line##*) }
  [[ ${line%% *} != Z ]]
}
span=50 startup_ms=50
kills=0 cycles=0 progressed=0 drained=0 startup_kills=0
depths=() spans=()
n_done=0
t_loop=$(ms_now)
while ((kills < TARGET_KILLS && cycles < MAX_CYCLES)); do
  cycles=$((cycles + 1))
  before=$n_done
  "$DMARQ" --db "$db" ingest --no-progress --maildir "$md" >"$work/cycle.out" 2>"$work/cycle.err" &
  ingest_pid=$!
  t0=$(ms_now)
  if ((RANDOM % 8 == 0)); then
    kind=startup
    delay=$((RANDOM % (startup_ms + 1)))
    sleep_ms "$delay"
  else
    kind=work
    while running "$ingest_pid"; do
      processed
      ((n_done <= before)) || break
      (($(ms_now) - t0 < 60000)) || fail "cycle $cycles: no message moved within 60 s"
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
    *) fail "cycle $cycles ($kind, delay ${delay} ms): ingest exited $rc; stderr: $(cat "$work/cycle.err")" ;;
  esac
  processed
  ((n_done >= before)) || fail "cycle $cycles: .Processed shrank from $before to $n_done"
  if ((n_done > before)); then progressed=$((progressed + 1)); fi
  if ((rc == 137)); then
    depths+=("$n_done")
    if [[ $kind == startup ]]; then startup_kills=$((startup_kills + 1)); fi
  fi
  if [[ -n "${DMARQ_CRASH_TRACE:-}" ]]; then
    echo "cycle $cycles: $kind, delay $delay ms, exit $rc, $n_done done, span $span, start-up $startup_ms ms" >&2
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
  fail "only $kills SIGKILLs hit a running ingest in $cycles cycles (drained=$drained, $n_done of $MESSAGES processed); test is void"
# Most kills must have let some messages through first, or the loop only
# tested start-up.
((progressed * 2 > kills)) || fail "only $progressed of $cycles cycles moved any message; test is void"
left=$(($(count_files "$md/new") + $(count_files "$md/cur")))

# --- let it finish -------------------------------------------------------------
expect_exit 0 dq ingest --no-progress --maildir "$md"

# --- the checks ------------------------------------------------------------------
expect_eq "totals after $kills kills (reference: an uninterrupted ingest)" "$want" "$(totals "$db")"
expect_eq "duplicated reports" 0 "$(sql 'SELECT count(*) FROM (SELECT 1 FROM report
  GROUP BY org_name, report_id, policy_domain, begin_ts, end_ts HAVING count(*) > 1)')"
expect_eq "messages stored twice" 0 "$(sql 'SELECT count(*) FROM (SELECT 1 FROM message GROUP BY sha256 HAVING count(*) > 1)')"
# Every report's records are its own id range, complete.
expect_eq "reports with a broken record range" 0 "$(sql 'SELECT count(*) FROM report r WHERE r.record_count <>
  (SELECT count(*) FROM record WHERE id BETWEEN r.first_record AND r.first_record + r.record_count - 1
   AND report_id = r.id)')"
# The stored messages are exactly the generated files, by content.
sql 'SELECT sha256 FROM message ORDER BY sha256' >"$work/hashes.db"
cmp -s "$work/hashes.want" "$work/hashes.db" ||
  fail "stored message sha256s differ from the generated files: $(diff "$work/hashes.want" "$work/hashes.db" | head -5)"
expect_eq "PRAGMA integrity_check" ok "$(sql 'PRAGMA integrity_check')"
expect_eq "PRAGMA foreign_key_check" "" "$(sql 'PRAGMA foreign_key_check')"
expect_eq "files left in new/" 0 "$(count_files "$md/new")"
expect_eq "files left in cur/" 0 "$(count_files "$md/cur")"
expect_eq "files left in tmp/" 0 "$(count_files "$md/tmp")"
expect_eq "files in .Processed" "$MESSAGES" "$(count_files "$md/.Processed")"
expect_eq "files in .Invalid" 0 "$(count_dir "$md/.Invalid")"
expect_eq "files under the Maildir" "$MESSAGES" "$(count_files "$md")"
file_hashes "$md/.Processed" >"$work/hashes.got"
cmp -s "$work/hashes.want" "$work/hashes.got" || fail "the files in .Processed are not the generated ones"

mapfile -t sorted < <(printf '%s\n' "${depths[@]}" | sort -n)
mapfile -t spans < <(printf '%s\n' "${spans[@]}" | sort -n)
echo "crash: $kills SIGKILLs of a running ingest ($startup_kills in its start-up) in $cycles cycles ($progressed moved messages;" \
  "killed with ${sorted[0]}..${sorted[${#sorted[@]} / 2]}..${sorted[-1]} of $MESSAGES processed," \
  "$left left for the final run); span ${spans[0]}..${spans[-1]} ms, seed $seed;" \
  "reference ingest ${ref_ms} ms, kill loop ${loop_ms} ms, total $((($(ms_now) - t_start) / 1000)) s"
echo ok
