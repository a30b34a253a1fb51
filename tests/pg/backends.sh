#!/usr/bin/env bash
# One behaviour on both stores (issue 9), against a real PostgreSQL cluster
# on 127.0.0.1 (tests/pg/lib.sh):
#  1. the same corpus (generated reports, the bundled samples, a rejected
#     input) ingested into SQLite and into PostgreSQL prints the same for
#     every read command of every domain;
#  2. dmarq migrate copies the SQLite database into PostgreSQL with the same
#     outputs, and a second run copies nothing;
#  3. four ingests at once over overlapping copies of a 2,000-message
#     corpus into one database store every report once, with the totals and
#     the exported records of the same corpus ingested into SQLite;
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
# Complaints (ARF, JMRP), a failure report, a bounce, an auto-reply and spam,
# so that complaints, bounces, suppressions and their exports have rows.
cp "$root"/tests/data/mixed/*.eml "$work/corpus/new/"
# Bytes that are not UTF-8 where dmarq keeps text that no report gave: a
# file name, and a complaint's Subject in Latin-1 with a stray 0xFF. The
# PostgreSQL store must give them back as SQLite does.
printf 'not a report\n' >"$work/corpus/new/plain-$(printf '\xff\xfe')-name.txt"
sed "s/^Subject: .*/Subject: caf$(printf '\xe9') $(printf '\xff')/" "$root/tests/data/mixed/arf-abuse.eml" \
  >"$work/corpus/new/arf-latin1.eml"
# Known senders: the samples' own server, and a wide range that makes part
# of the generated sources known, so that verdicts differ between sources.
cfg=$work/dmarq.toml
{
  cat "$root/samples/dmarq.toml"
  printf '[senders.generated-low]\nips = ["0.0.0.0/2"]\n'
} >"$cfg"
export DMARQ_CONFIG=$cfg
copy() { rm -rf "$1"; cp -r "$work/corpus" "$1"; }

sqlite=$work/ref.sqlite
# The same mailbox path for both, since exports name where a message came from.
copy "$work/m-one"
"$dmarq" --db "$sqlite" ingest --no-progress --maildir "$work/m-one" || [[ $? == 1 ]]
pgurl=$(pg_create_db same)
copy "$work/m-one"
"$dmarq" --db "$pgurl" ingest --no-progress --maildir "$work/m-one" || [[ $? == 1 ]]

# 1. Every read command, every domain, both stores.
domains=$("$dmarq" --db "$sqlite" reports --format csv | tail -n +2 | cut -d, -f3 | sort -u)
[[ $(wc -w <<<"$domains") -ge 5 ]] || bad "expected at least 5 domains, got: $domains"
compare() {  # compare DB_URL LABEL: every command's output and exit code equal SQLite's
  local url=$1 label=$2 n=0 d
  local -a cmds=("reports" "reports --format csv" "export aggregate --format csv"
                 "export feedback --format csv" "export bounces --format csv"
                 "complaints" "bounces" "suppressions"
                 "html --offline --since 2026-01-01 --until 2026-12-01 -o -")
  for d in $domains; do
    cmds+=("readiness --offline --domain $d --since 2026-01-01 --format json"
           "trend --domain $d --until 2026-11-30 --days 400 --format csv"
           "sources --domain $d --since 2026-01-01 --format csv"
           "sources --domain $d --since 2026-01-01 --by reporter"
           "export sources --domain $d --since 2026-01-01 --by sender --format json"
           "senders --domain $d")
  done
  local c a b ra rb
  for c in "${cmds[@]}"; do
    ra=0 rb=0
    # shellcheck disable=SC2086
    a=$("$dmarq" --db "$sqlite" $c 2>&1) || ra=$?
    # shellcheck disable=SC2086
    b=$("$dmarq" --db "$url" $c 2>&1) || rb=$?
    a=$(grep -av 'generated 20' <<<"$a" || true) b=$(grep -av 'generated 20' <<<"$b" || true)
    if ((ra >= 2)) || [[ $a == *"Run with --help"* ]]; then
      # A usage error on both sides would compare equal and prove nothing.
      bad "$label: '$c' is not a working command (exit $ra): $(head -2 <<<"$a")"
    elif [[ "$a" != "$b" || $ra != "$rb" ]]; then
      bad "$label: '$c' differs from SQLite (exit $ra against $rb)"
      diff <(echo "$a") <(echo "$b") | head -5 || true
    elif [[ -z "$a" ]]; then
      bad "$label: '$c' printed nothing"
    else
      n=$((n + 1))
    fi
  done
  if ((n == ${#cmds[@]})); then ok "$label: $n outputs identical to SQLite's"; fi
}
compare "$pgurl" "one ingest"

totals() {  # reports, records, messages of the stored reports
  "$dmarq" --db "$1" reports --format csv | tail -n +2 |
    awk -F, '{ n++; r += $(NF-1); m += $NF } END { print n, r, m }'
}
want=$(totals "$sqlite")
[[ $(totals "$pgurl") == "$want" ]] && ok "totals $want" || bad "totals $(totals "$pgurl") != $want"

# What was set aside: the same code and reason (paths and times differ).
# Without the time (the two ingests ran seconds apart); the origin stays, as
# both read the same folder.
rejected() { "$dmarq" --db "$1" rejects --format csv | tail -n +2 | cut -d, -f2-; }
[[ -n $(rejected "$sqlite") && $(rejected "$pgurl") == "$(rejected "$sqlite")" ]] && ok "the same input set aside" ||
  bad "rejects: $(rejected "$pgurl") vs $(rejected "$sqlite")"

# 2. dmarq migrate: SQLite into PostgreSQL prints the same, rejected inputs
#    included (their origins and times are copied); a rerun copies nothing.
mig=$(pg_create_db migrated)
"$dmarq" --db "$sqlite" migrate --no-progress --to "$mig" 2>"$work/mig.log"
grep -q "copied [1-9][0-9]* message(s)" "$work/mig.log" && ok "migrate: $(cat "$work/mig.log")" ||
  bad "migrate said: $(cat "$work/mig.log")"
compare "$mig" "migrated"
[[ $("$dmarq" --db "$mig" rejects) == "$("$dmarq" --db "$sqlite" rejects)" ]] && ok "migrated: the same rejects" ||
  bad "migrated: rejects differ"
"$dmarq" -v migrate --no-progress --from "sqlite:$sqlite" --to "$mig" 2>"$work/mig2.log"
grep -q "copied 0 message(s) (0 report(s), 0 record(s)); [1-9][0-9]* already there" "$work/mig2.log" &&
  [[ $(totals "$mig") == "$want" ]] && ok "migrate again: nothing copied, totals $want" ||
  bad "migrate again: $(cat "$work/mig2.log"); totals $(totals "$mig")"

# 3. Four hosts at once over overlapping copies of a 2,000-message corpus
#    (small reports, 20 domains): host i reads messages 500i .. 500i+999
#    (mod 2000), so every message is in two mailboxes and all 2,000 in some.
#    The reference is the whole corpus ingested into SQLite by one process.
"$gen" --out "$work/big" --messages 2000 --domains 20 --min-records 1 --max-records 12 --seed 21 --quiet >/dev/null
mapfile -t big < <(find "$work/big/new" -type f | sort)
((${#big[@]} == 2000)) || bad "the generated corpus has ${#big[@]} messages, not 2000"
share() {  # share DIR I: host I's overlapping half of the corpus
  rm -rf "$1"
  mkdir -p "$1/new" "$1/cur" "$1/tmp"
  local k
  for ((k = 500 * $2; k < 500 * $2 + 1000; k++)); do cp "${big[k % 2000]}" "$1/new/"; done
}
rm -rf "$work/m-big" && cp -r "$work/big" "$work/m-big"
bigref=$work/big.sqlite
"$dmarq" --db "$bigref" ingest --no-progress --maildir "$work/m-big"
want_big=$(totals "$bigref")
same_data() {  # same_data URL LABEL: reports and every record equal the reference's
  local a b
  for c in "reports --format csv" "export aggregate --format csv"; do
    # shellcheck disable=SC2086
    a=$("$dmarq" --db "$bigref" $c) b=$("$dmarq" --db "$1" $c)
    [[ $a == "$b" ]] && ok "$2: $c equals SQLite's ($(wc -l <<<"$a") lines)" || bad "$2: $c differs from SQLite's"
  done
}
no_duplicates() {  # no_duplicates DB LABEL
  local dups rows
  dups=$(pg_psql "$1" -Atc "SELECT count(*) - count(DISTINCT (org_name, report_id, policy_domain, begin_ts, end_ts)) FROM report")
  rows=$(pg_psql "$1" -Atc "SELECT (SELECT count(*) FROM record) = (SELECT sum(record_count) FROM report)")
  [[ $dups == 0 && $rows == t ]] && ok "$2: 0 duplicate reports, every record once" ||
    bad "$2: $dups duplicates, records match: $rows"
}
conc=$(pg_create_db conc)
pids=()
for i in 0 1 2 3; do
  share "$work/m-conc-$i" "$i"
done
for i in 0 1 2 3; do
  "$dmarq" --db "$conc" ingest --no-progress --maildir "$work/m-conc-$i" >"$work/conc-$i.log" 2>&1 &
  pids+=($!)
done
for i in 0 1 2 3; do
  rc=0
  wait "${pids[$i]}" || rc=$?
  [[ $rc == 0 ]] || bad "concurrent ingest $i exited $rc: $(tail -3 "$work/conc-$i.log")"
done
[[ $(totals "$conc") == "$want_big" ]] && ok "4 concurrent ingests of 2000 messages: totals $want_big" ||
  bad "4 concurrent ingests: totals $(totals "$conc") != $want_big"
no_duplicates conc "4 concurrent ingests"
same_data "$conc" "4 concurrent ingests"

# 4. The same four at once again; host 0 is killed with SIGKILL half-way,
#    the others finish, and host 0 runs again.
killed=$(pg_create_db killed)
pids=()
for i in 0 1 2 3; do
  share "$work/m-kill-$i" "$i"
done
for i in 0 1 2 3; do
  "$dmarq" --db "$killed" ingest --no-progress --maildir "$work/m-kill-$i" >/dev/null 2>&1 &
  pids+=($!)
done
for _ in $(seq 600); do
  done_n=$(pg_psql killed -Atc "SELECT count(*) FROM message WHERE outcome <> 'pending'" 2>/dev/null || echo 0)
  ((done_n >= 1000)) && break
  sleep 0.05
done
kill -KILL "${pids[0]}" 2>/dev/null || true
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
left=$(find "$work/m-kill-0/new" "$work/m-kill-0/cur" -type f | wc -l)
((left > 0)) && ok "one of four killed with $left message(s) left in its mailbox" ||
  bad "the ingest finished before the kill"
"$dmarq" --db "$killed" ingest --no-progress --maildir "$work/m-kill-0" || bad "the rerun exited $?"
[[ $(totals "$killed") == "$want_big" ]] && ok "killed and rerun: totals $want_big" ||
  bad "killed and rerun: totals $(totals "$killed") != $want_big"
no_duplicates killed "killed and rerun"
same_data "$killed" "killed and rerun"

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
