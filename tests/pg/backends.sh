#!/usr/bin/env bash
# One behaviour on both stores (issue 9), against a real PostgreSQL cluster
# on 127.0.0.1 (tests/pg/lib.sh):
#  1. the same corpus (generated reports, the bundled samples, a rejected
#     input) ingested into SQLite and into PostgreSQL prints the same for
#     every read command of every domain;
#  2. dmarq migrate copies the SQLite database into PostgreSQL with the same
#     outputs, and a second run copies nothing;
#  3. four ingests at once over four copies of the corpus into one database
#     store every report once, with the totals of the SQLite run;
#  4. four at once again, one of them killed with SIGKILL half-way and run
#     again: the same totals;
#  5. a second ingest of a mailbox being read is refused (exit 75), and a
#     password in --db is refused;
#  6. the password can come from the config's [database] password_file
#     instead of a pgpass file, and a file others can read is refused.
# Usage: backends.sh DMARQ DMARQ_GEN WORK_DIR
set -euo pipefail
dmarq=$1 gen=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/pg/lib.sh
source "$here/lib.sh"

fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

rm -rf "$work"
mkdir -p "$work"
trap 'pg_stop "$work/pg" >/dev/null 2>&1 || true' EXIT
pg_start "$work/pg"

# The corpus: 120 generated report e-mails over 4 domains, plus the samples
# (zip, gzip, e-mails, a file that is not a report) and three test reports.
"$gen" --out "$work/corpus" --messages 120 --domains 4 --seed 9 --quiet >/dev/null
cp "$root"/samples/reports/* "$work/corpus/new/"
# Reports whose metadata follows their records: one new (its records are
# rolled up again under the final metadata), one that turns out to be a
# duplicate of basic.xml only when its metadata arrives.
cp "$root"/tests/data/reports/{basic.xml,late-metadata.xml,late-metadata-dup.xml} "$work/corpus/new/"
copy() { rm -rf "$1"; cp -r "$work/corpus" "$1"; }

sqlite=$work/ref.sqlite
copy "$work/m-sqlite"
"$dmarq" --db "$sqlite" ingest --no-progress --maildir "$work/m-sqlite" || [[ $? == 1 ]]
pgurl=$(pg_create_db same)
copy "$work/m-pg"
"$dmarq" --db "$pgurl" ingest --no-progress --maildir "$work/m-pg" || [[ $? == 1 ]]

# 1. Every read command, every domain, both stores.
domains=$("$dmarq" --db "$sqlite" reports --format csv | tail -n +2 | cut -d, -f3 | sort -u)
[[ $(wc -w <<<"$domains") -ge 5 ]] || bad "expected at least 5 domains, got: $domains"
compare() {  # compare DB_URL LABEL: every command's output equals SQLite's
  local url=$1 label=$2 n=0 d
  local -a cmds=("reports" "reports --format csv" "export --format csv"
                 "complaints" "bounces" "suppressions"
                 "html --offline --since 2026-01-01 --until 2026-12-01 -o -")
  for d in $domains; do
    cmds+=("readiness --offline --domain $d --since 2026-01-01 --format json"
           "trend --domain $d --until 2026-11-30 --days 400 --format csv"
           "sources --domain $d --since 2026-01-01 --format csv"
           "sources --domain $d --since 2026-01-01 --by reporter"
           "senders --domain $d")
  done
  local c a b
  for c in "${cmds[@]}"; do
    # shellcheck disable=SC2086
    a=$("$dmarq" --db "$sqlite" $c 2>&1 | grep -v 'generated 20' || true)
    # shellcheck disable=SC2086
    b=$("$dmarq" --db "$url" $c 2>&1 | grep -v 'generated 20' || true)
    if [[ "$a" != "$b" ]]; then
      bad "$label: '$c' differs from SQLite"
      diff <(echo "$a") <(echo "$b") | head -5 || true
    elif [[ -z "$a" ]]; then
      bad "$label: '$c' printed nothing"
    else
      n=$((n + 1))
    fi
  done
  ok "$label: $n outputs identical to SQLite's"
}
compare "$pgurl" "one ingest"

totals() {  # reports, records, messages of the stored reports
  "$dmarq" --db "$1" reports --format csv | tail -n +2 |
    awk -F, '{ n++; r += $(NF-1); m += $NF } END { print n, r, m }'
}
want=$(totals "$sqlite")
[[ $(totals "$pgurl") == "$want" ]] && ok "totals $want" || bad "totals $(totals "$pgurl") != $want"

# What was set aside: the same code and reason (paths and times differ).
rejected() { "$dmarq" --db "$1" rejects --format csv | tail -n +2 | cut -d, -f3-; }
[[ -n $(rejected "$sqlite") && $(rejected "$pgurl") == $(rejected "$sqlite") ]] && ok "the same input set aside" ||
  bad "rejects: $(rejected "$pgurl") vs $(rejected "$sqlite")"

# 2. dmarq migrate: SQLite into PostgreSQL prints the same, rejected inputs
#    included (their origins and times are copied); a rerun copies nothing.
mig=$(pg_create_db migrated)
"$dmarq" --db "$sqlite" migrate --no-progress --to "$mig" 2>"$work/mig.log"
grep -q "copied [1-9][0-9]* message(s)" "$work/mig.log" && ok "migrate: $(cat "$work/mig.log")" ||
  bad "migrate said: $(cat "$work/mig.log")"
compare "$mig" "migrated"
[[ $("$dmarq" --db "$mig" rejects) == $("$dmarq" --db "$sqlite" rejects) ]] && ok "migrated: the same rejects" ||
  bad "migrated: rejects differ"
"$dmarq" -v migrate --no-progress --from "sqlite:$sqlite" --to "$mig" 2>"$work/mig2.log"
grep -q "copied 0 message(s) (0 report(s), 0 record(s)); [1-9][0-9]* already there" "$work/mig2.log" &&
  [[ $(totals "$mig") == "$want" ]] && ok "migrate again: nothing copied, totals $want" ||
  bad "migrate again: $(cat "$work/mig2.log"); totals $(totals "$mig")"

# 3. Four hosts at once, overlapping copies of the same mailbox.
conc=$(pg_create_db conc)
pids=()
for i in 1 2 3 4; do
  copy "$work/m-conc-$i"
  "$dmarq" --db "$conc" ingest --no-progress --maildir "$work/m-conc-$i" >"$work/conc-$i.log" 2>&1 &
  pids+=($!)
done
for i in 0 1 2 3; do
  rc=0
  wait "${pids[$i]}" || rc=$?
  [[ $rc == 0 || $rc == 1 ]] || bad "concurrent ingest $((i + 1)) exited $rc: $(tail -3 "$work/conc-$((i + 1)).log")"
done
[[ $(totals "$conc") == "$want" ]] && ok "4 concurrent ingests: totals $want" ||
  bad "4 concurrent ingests: totals $(totals "$conc") != $want"
dups=$(pg_psql conc -Atc "SELECT count(*) - count(DISTINCT (org_name, report_id, policy_domain, begin_ts, end_ts)) FROM report")
rows=$(pg_psql conc -Atc "SELECT (SELECT count(*) FROM record) = (SELECT sum(record_count) FROM report)")
[[ $dups == 0 && $rows == t ]] && ok "4 concurrent ingests: 0 duplicate reports, every record once" ||
  bad "4 concurrent ingests: $dups duplicates, records match: $rows"
compare "$conc" "4 concurrent ingests"

# 4. Four at once again; one is killed with SIGKILL half-way, the others
#    finish, and the killed one runs again.
killed=$(pg_create_db killed)
pids=()
for i in 1 2 3 4; do
  copy "$work/m-kill-$i"
  "$dmarq" --db "$killed" ingest --no-progress --maildir "$work/m-kill-$i" >/dev/null 2>&1 &
  pids+=($!)
done
for _ in $(seq 400); do
  done_n=$(pg_psql killed -Atc "SELECT count(*) FROM message WHERE outcome <> 'pending'" 2>/dev/null || echo 0)
  ((done_n >= 60)) && break
  sleep 0.05
done
kill -KILL "${pids[0]}" 2>/dev/null || true
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
left=$(find "$work/m-kill-1/new" "$work/m-kill-1/cur" -type f | wc -l)
((left > 0)) && ok "one of four killed with $left message(s) left in its mailbox" ||
  bad "the ingest finished before the kill"
"$dmarq" --db "$killed" ingest --no-progress --maildir "$work/m-kill-1" || [[ $? == 1 ]]
[[ $(totals "$killed") == "$want" ]] && ok "killed and rerun: totals $want" ||
  bad "killed and rerun: totals $(totals "$killed") != $want"
dups=$(pg_psql killed -Atc "SELECT count(*) - count(DISTINCT (org_name, report_id, policy_domain, begin_ts, end_ts)) FROM report")
[[ $dups == 0 ]] && ok "killed and rerun: 0 duplicate reports" || bad "killed and rerun: $dups duplicates"
compare "$killed" "killed and rerun"

# 5. The lock per mailbox, and no password in --db.
locked=$(pg_create_db locked)
copy "$work/m-lock"
pg_psql locked -Atc "SELECT 1" >/dev/null
"$dmarq" --db "$locked" ingest --no-progress --maildir "$work/m-lock" >/dev/null 2>&1 &
pid=$!
sleep 0.5
rc=0
"$dmarq" --db "$locked" ingest --no-progress --maildir "$work/m-lock" >"$work/lock.log" 2>&1 || rc=$?
wait "$pid" || true
if [[ $rc == 75 ]] && grep -q "another ingest is reading maildir:" "$work/lock.log"; then
  ok "a second ingest of the same mailbox exits 75"
else
  bad "a second ingest of the same mailbox exited $rc: $(cat "$work/lock.log")"
fi
rc=0
"$dmarq" --db "postgresql://dmarq:secret@127.0.0.1:$PG_PORT/dmarq" reports >"$work/pw.log" 2>&1 || rc=$?
[[ $rc != 0 ]] && grep -q "carries a password" "$work/pw.log" && ok "a password in --db is refused" ||
  bad "a password in --db: exit $rc, $(cat "$work/pw.log")"

# 6. The password from the config's [database] secret rules, without pgpass.
cut -d: -f5- "$PGPASSFILE" >"$work/db-password"
chmod 600 "$work/db-password"
printf '[database]\npassword_file = "%s"\n' "$work/db-password" >"$work/config.toml"
rc=0
(unset PGPASSFILE; HOME=$work "$dmarq" --config "$work/config.toml" --db "$pgurl" reports >/dev/null 2>"$work/secret.log") || rc=$?
[[ $rc == 0 ]] && ok "[database] password_file, no pgpass: connected" || bad "[database] password_file: exit $rc: $(cat "$work/secret.log")"
rc=0
(unset PGPASSFILE; HOME=$work "$dmarq" --db "$pgurl" reports >/dev/null 2>"$work/nosecret.log") || rc=$?
[[ $rc != 0 ]] && grep -q "password" "$work/nosecret.log" && ok "no pgpass and no [database]: refused by the server" ||
  bad "without a password: exit $rc: $(cat "$work/nosecret.log")"
chmod 644 "$work/db-password"
rc=0
(unset PGPASSFILE; HOME=$work "$dmarq" --config "$work/config.toml" --db "$pgurl" reports >/dev/null 2>"$work/loose.log") || rc=$?
[[ $rc != 0 ]] && grep -q "readable by group or others" "$work/loose.log" && ok "a password_file others can read is refused" ||
  bad "loose password_file: exit $rc: $(cat "$work/loose.log")"

exit $fail
