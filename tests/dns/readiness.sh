#!/usr/bin/env bash
# readiness splits SPF with the domain's live record read as "-all" (the
# RFC 7208 engine against NSD on 127.0.0.1), and falls back to the reporters'
# SPF results offline or when DNS does not answer:
#   - live: 192.0.2.10 and 192.0.2.20 pass (the record covers both, although
#     the receiver saw 192.0.2.20 softfail), 192.0.2.99 would fail;
#   - --offline: only what the reporter saw pass (192.0.2.10) passes;
#   - a resolver that never answers: the same as offline, within its timeout.
set -euo pipefail
here=$(dirname "$0")
source "$here/../cli/lib.sh"
source "$here/lib.sh"
cli_setup "$@"
report=$2/dns/readiness-report.xml
[[ -f "$report" ]] || fail "no $report"

dns_start "$DNS_ZONES/readiness.test.zone"
dns_expect readiness.test TXT NOERROR "v=spf1 ip4:192.0.2.10 ip4:192.0.2.20 ~all"
expect_exit 0 dq ingest "$report"
period=(--domain readiness.test --since 2026-10-01 --until 2026-10-31 --format json)

# spf_all: passes, would-fail and how many messages the live record decided.
split() {
  python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
s = r["spf_all"]
print(s["messages"], s["passes"], s["known_fail"] + s["unknown_fail"] + s["safe_dkim"], r["spf_live_messages"])
' <<<"$1"
}

expect_exit 0 dqd readiness "${period[@]}" --resolver "$DNS_SERVER"
expect_eq "live: messages passes fails live" "55 50 5 55" "$(split "$out")"

expect_exit 0 dqd readiness "${period[@]}" --offline
expect_eq "offline: messages passes fails live" "55 30 25 0" "$(split "$out")"

# A fresh database: the one above has the live answer in its DNS cache.
db=$work/dead.sqlite
expect_exit 0 dq ingest "$report"
blackhole_start
start=$SECONDS
expect_exit 0 dqd readiness "${period[@]}" --resolver "127.0.0.1:$BLACKHOLE_PORT" --dns-timeout 1
expect_eq "no answer: messages passes fails live" "55 30 25 0" "$(split "$out")"
# Three sources, each one TXT lookup of at most 1 s (memoized per address and
# domain), plus start-up.
((SECONDS - start <= 8)) || fail "readiness against a dead resolver took $((SECONDS - start)) s"
(($(blackhole_packets) > 0)) || fail "readiness never asked the dead resolver"
blackhole_stop

# The text output says where the SPF split came from.
expect_exit 0 dqd readiness --domain readiness.test --since 2026-10-01 --until 2026-10-31 --resolver "$DNS_SERVER"
expect_contains "text names the live record" "the live SPF record evaluated with -all for 55 of 55 message(s)" "$out"

echo ok
