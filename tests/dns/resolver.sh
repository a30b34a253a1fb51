#!/usr/bin/env bash
# dmarq's resolver against a server that never answers and against a real
# one (NSD on 127.0.0.1, tests/dns/lib.sh):
#   (a) black hole (tests/dns/blackhole.py reads queries and answers none):
#       `check` and `spf` finish within timeout x the number of distinct
#       lookups asked + 1 s, report dns.temporary / temperror and never
#       claim a record is missing, and ask the black hole only about the
#       domain in question; enrich of N addresses with --dns-timeout T and
#       --dns-concurrency C takes at most T x ceil(N/C) + 1 s, and at least
#       (ceil(N/C) - 1) x T: no more than C lookups in flight;
#   (b) --offline: check, spf and enrich send no query at all (NSD's query
#       counter and the black hole's both unchanged, even with --resolver
#       given), claim nothing missing, and cache nothing;
#   (c) the cache (table dns_cache of the --db): a second check sends
#       fewer queries than the first, with the same findings, and only
#       ok/nodata/nxdomain answers are stored; a rerun of enrich leaves
#       fresh addresses alone, and with ip_info emptied gets the same answers
#       from the cache with fewer queries; a temporary failure is never
#       cached: the black hole is asked again on the second run.
# Every dmarq call names --resolver 127.0.0.1:PORT or --offline (dqd
# enforces it).
set -euo pipefail
here=$(dirname "$0")
source "$here/../cli/lib.sh"
source "$here/lib.sh"
cli_setup "$@"
report=$2/dns/enrich-report.xml
[[ -f "$report" ]] || fail "no $report"

dns_start_enrich_zones "$work/zones"
blackhole_start

# timed CMD...: `run CMD...` (sets rc, out, err), and sets $elapsed to its
# wall time in seconds (date before and after, nothing slower in between).
timed() {
  local t0 t1
  t0=$(date +%s%N)
  run "$@"
  t1=$(date +%s%N)
  elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
}
# at_most SECS / at_least SECS: compare $elapsed.
at_most() { awk -v e="$elapsed" -v l="$1" 'BEGIN { exit !(e <= l) }'; }
at_least() { awk -v e="$elapsed" -v l="$1" 'BEGIN { exit !(e >= l) }'; }
# errors JSON: the "errors" count of a check's JSON output.
errors() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["errors"])' <<<"$1"; }
# exit_matches_errors: a check's exit status is 1 exactly when its JSON
# ($out) counts errors, else 0 (the spec: 0 no error finding, 1 any).
exit_matches_errors() {
  local n
  n=$(errors "$out") || fail "$1: not a check JSON: $out"
  if ((n > 0)); then expect_eq "$1: exit with $n errors" 1 "$rc"; else expect_eq "$1: exit with no error" 0 "$rc"; fi
}
# codes JSON: the finding codes of a check's JSON output, one a line.
codes() { python3 -c 'import json,sys; [print(f["code"]) for f in json.loads(sys.stdin.read())["findings"]]' <<<"$1"; }
# result JSON: the "result" of an spf JSON output.
result() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["result"])' <<<"$1"; }
# distinct_lookups FROM: distinct (name, type) the black hole was asked,
# from its query number FROM on (1-based).
distinct_lookups() { blackhole_queries | tail -n +"$1" | awk '{print $2, $3}' | sort -u | wc -l; }
cache_rows() { sqlite3 "$1" 'SELECT COUNT(*) FROM dns_cache'; }

# --- (a) A resolver that never answers ---------------------------------------
T=1
db=$work/hole.sqlite
b0=$(blackhole_packets)
timed dqd check example.test --selector mail --resolver "$BLACKHOLE_SERVER" --dns-timeout $T --format json
lookups=$(distinct_lookups $((b0 + 1)))
echo "check against the black hole: exit $rc, ${elapsed}s, $lookups distinct lookups, $(($(blackhole_packets) - b0)) packets"
((lookups >= 1)) || fail "the black hole was never asked"
# Even one lookup after another, each gives up within T.
at_most $((T * lookups + 1)) || fail "check took ${elapsed}s, more than $T s x $lookups lookups + 1 s"
exit_matches_errors "check with no answers"
found=$(codes "$out") || fail "not a check JSON: $out"
expect_contains "check with no answers" dns.temporary "$found"
[[ "$found" != *missing* ]] || fail "a record claimed missing when nothing answered:"$'\n'"$found"
strays=$(blackhole_queries | tail -n +$((b0 + 1)) | awk '{print $2}' |
  grep -v -E '(^|\.)example\.test$|\.in-addr\.arpa$|\.ip6\.arpa$' || true)
[[ -z "$strays" ]] || fail "check asked about names outside example.test:"$'\n'"$strays"

b0=$(blackhole_packets)
timed dqd spf example.test 192.0.2.25 --resolver "$BLACKHOLE_SERVER" --dns-timeout $T --format json
expect_eq "spf exit with no answers" 0 "$rc"
lookups=$(distinct_lookups $((b0 + 1)))
echo "spf against the black hole: ${elapsed}s, $lookups distinct lookups"
((lookups >= 1)) || fail "spf never asked the black hole"
at_most $((T * lookups + 1)) || fail "spf took ${elapsed}s with $lookups lookups"
expect_eq "spf with no answers" temperror "$(result "$out")"

# enrich: N addresses (6 distinct in the report), C in flight, T each.
expect_exit 0 dq ingest "$report"
N=6 C=2
b0=$(blackhole_packets)
timed dqd enrich --resolver "$BLACKHOLE_SERVER" --dns-timeout $T --dns-concurrency $C
waves=$(((N + C - 1) / C))
echo "enrich against the black hole: exit $rc, ${elapsed}s for N=$N C=$C T=$T (bound $((T * waves + 1))s), $(($(blackhole_packets) - b0)) packets"
expect_eq "enrich exit with no answers" 0 "$rc"
expect_contains "enrich says some addresses got no answer" "no answer" "$err"
at_most $((T * waves + 1)) || fail "enrich took ${elapsed}s, more than $T x ceil($N/$C) + 1 s"
at_least $((T * (waves - 1))) ||
  fail "enrich took ${elapsed}s, less than ($waves - 1) x $T s: more than $C lookups in flight?"
expect_eq "PTR lookups asked" "$N" "$(distinct_lookups $((b0 + 1)))"
expect_eq "ip_info rows after no answers" 0 "$(sql 'SELECT COUNT(*) FROM ip_info')"

# A temporary failure is not cached: the same check again asks again.
expect_eq "dns_cache rows after the black hole" 0 "$(cache_rows "$db")"
b0=$(blackhole_packets)
run dqd check example.test --selector mail --resolver "$BLACKHOLE_SERVER" --dns-timeout $T --format json
b1=$(blackhole_packets)
((b1 > b0)) || fail "second check against the black hole sent nothing: a temporary failure was cached"
expect_eq "dns_cache rows after the second black-hole run" 0 "$(cache_rows "$db")"

# --- (b) --offline -------------------------------------------------------------
db=$work/offline.sqlite
expect_exit 0 dq ingest "$report"
q0=$(dns_queries)
b0=$(blackhole_packets)
for resolver in "$DNS_SERVER" "$BLACKHOLE_SERVER"; do
  run dqd check afspraakmanager.be --selector mail --selector default --resolver "$resolver" --offline --format json
  [[ $rc == 0 || $rc == 1 ]] || fail "check --offline: exit $rc; stderr: $err"
  exit_matches_errors "check --offline"
  found=$(codes "$out") || fail "check --offline: not a check JSON: $out"
  [[ -n "$found" ]] || fail "check --offline: no finding says nothing was checked"
  [[ "$found" != *missing* ]] || fail "check --offline claims something missing:"$'\n'"$found"
  expect_exit 0 dqd spf spf.test 192.0.2.9 --resolver "$resolver" --offline --format json
  [[ "$(result "$out")" != none ]] || fail "spf --offline says there is no SPF record"
  expect_exit 0 dqd enrich --resolver "$resolver" --offline
done
run dqd check example.test --offline
[[ $rc == 0 || $rc == 1 ]] || fail "check --offline without --resolver: exit $rc; stderr: $err"
expect_eq "NSD queries with --offline" "$q0" "$(dns_queries)"
expect_eq "black-hole packets with --offline" "$b0" "$(blackhole_packets)"
expect_eq "dns_cache rows after --offline" 0 "$(cache_rows "$db")"
expect_eq "ip_info rows after --offline" 0 "$(sql 'SELECT COUNT(*) FROM ip_info')"

# --- (c) The cache ---------------------------------------------------------------
# cached_twice LABEL ROWS: the same check twice on $db; the second sends
# fewer queries and finds the same, and the cache holds only ok, nodata and
# nxdomain rows. ROWS QUERY prints a one-value query's result on $db.
cached_twice() {
  local label=$1 rows=$2 q0 q1 q2 first
  q0=$(dns_queries)
  expect_exit 0 dqd check example.test --selector mail --resolver "$DNS_SERVER" --format json
  q1=$(dns_queries)
  first=$out
  expect_exit 0 dqd check example.test --selector mail --resolver "$DNS_SERVER" --format json
  q2=$(dns_queries)
  echo "check example.test ($label): $((q1 - q0)) queries, then $((q2 - q1)) with the cache"
  ((q1 > q0)) || fail "$label: first check sent no query"
  ((q2 - q1 < q1 - q0)) || fail "$label: second check sent $((q2 - q1)) queries, the first $((q1 - q0))"
  expect_eq "$label: second check's findings" "$(codes "$first" | sort)" "$(codes "$out" | sort)"
  (($("$rows" 'SELECT count(*) FROM dns_cache') > 0)) || fail "$label: nothing in dns_cache after a check"
  expect_eq "$label: cached statuses" "" \
    "$("$rows" "SELECT DISTINCT status FROM dns_cache WHERE status NOT IN ('ok','nodata','nxdomain')")"
}
db=$work/cache.sqlite
cached_twice SQLite sql
expect_eq "cache expiry after fetch" 0 \
  "$(sqlite3 "$db" 'SELECT COUNT(*) FROM dns_cache WHERE expires_at <= fetched_at')"

# enrich: a rerun leaves freshly enriched addresses alone (no query); with
# ip_info emptied it resolves them all again, from the cache.
expect_exit 0 dq ingest "$report"
q0=$(dns_queries)
expect_exit 0 dqd enrich --resolver "$DNS_SERVER"
q1=$(dns_queries)
expect_eq "ip_info rows after enrich" 6 "$(sql 'SELECT COUNT(*) FROM ip_info')"
sql 'SELECT ip, ptr_status, ptr, fcrdns FROM ip_info ORDER BY ip' >"$work/ip_info.first"
expect_exit 0 dqd enrich --resolver "$DNS_SERVER"
q2=$(dns_queries)
sql 'DELETE FROM ip_info'
expect_exit 0 dqd enrich --resolver "$DNS_SERVER"
q3=$(dns_queries)
echo "enrich: $((q1 - q0)) queries, rerun $((q2 - q1)), rerun with ip_info emptied $((q3 - q2)) (cache)"
((q1 > q0)) || fail "first enrich sent no query"
expect_eq "queries of a rerun on fresh ip_info" 0 "$((q2 - q1))"
((q3 - q2 < q1 - q0)) || fail "enrich from the cache sent $((q3 - q2)) queries, the first run $((q1 - q0))"
expect_eq "ip_info from the cache" "$(cat "$work/ip_info.first")" \
  "$(sql 'SELECT ip, ptr_status, ptr, fcrdns FROM ip_info ORDER BY ip')"

# --- (d) The cache on PostgreSQL ------------------------------------------------
# The same table in a shared database: a second check, as another host would
# run it, is answered from what the first one fetched.
# shellcheck source=tests/pg/lib.sh
source "$here/../pg/lib.sh"
pg_stop_hook() { pg_stop "$work/pg" >/dev/null 2>&1; }
CLEANUP_HOOKS+=(pg_stop_hook)
# The cluster runs as nobody when the tests run as root: it must be able to
# pass through $work (mktemp's 0700) to its own folder; nothing is listable.
chmod 711 "$work"
pg_start "$work/pg" >/dev/null
db=$(pg_create_db dnscache)
pg_rows() { pg_psql dnscache -Atc "$1"; }
cached_twice PostgreSQL pg_rows
# A temporary failure is not cached there either.
before=$(pg_rows 'SELECT count(*) FROM dns_cache')
b0=$(blackhole_packets)
run dqd check uncached.test --resolver "$BLACKHOLE_SERVER" --dns-timeout $T --format json
((  $(blackhole_packets) > b0 )) || fail "the check against the black hole sent nothing on PostgreSQL"
expect_eq "dns_cache rows after the black hole on PostgreSQL" "$before" "$(pg_rows 'SELECT count(*) FROM dns_cache')"

# A read-only database (as a hot standby is) cannot keep the answers; the
# check still answers, and asks the network for what is not cached.
rows=$(pg_rows 'SELECT count(*) FROM dns_cache')
db_rw=$db
db="$db_rw?options=-cdefault_transaction_read_only%3Don"
q0=$(dns_queries)
run dqd check nothere.example.test --resolver "$DNS_SERVER" --format json
[[ $rc == 0 || $rc == 1 ]] || fail "check on the read-only database: exit $rc; stderr: $err"
exit_matches_errors "check on the read-only database"
q1=$(dns_queries)
((q1 > q0)) || fail "a check on the read-only database sent no query"
expect_eq "dns_cache rows after a read-only check" "$rows" "$(pg_rows 'SELECT count(*) FROM dns_cache')"
db=$db_rw

echo ok
