#!/usr/bin/env bash
# DNS benchmark (not a test): enrichment against the test suite's rootless
# NSD (tests/dns/lib.sh, 127.0.0.1, a free high port), then against a
# resolver that never answers (tests/dns/blackhole.py). Nothing is sent
# anywhere but 127.0.0.1.
#
#   1. PTR + FCrDNS of N distinct addresses (default 10,000, from the
#      198.18.0.0/15 benchmarking range, RFC 2544): a generated reverse zone
#      with one PTR per address, whose names have A records pointing back,
#      served by NSD; a database with those N addresses as the sources of
#      one ingested aggregate report; `dmarq enrich` timed against a cold
#      cache. Target: at most 5 s.
#   2. The same enrich against the black hole with M addresses, --dns-timeout
#      T and --dns-concurrency C, for a few (M, C, T): the elapsed time
#      against the bound T x ceil(M / C) + 1 s.
# Prints a table for each part; exits 1 when a figure misses its target.
#
#   tools/bench/dns-bench.sh [BUILD_DIR] [N]
#   (defaults: build-rel 10000; BUILD_DIR needs tools/dmarq/dmarq)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build-rel}" && pwd)
n=${2:-10000}
((n >= 1 && n <= 100000)) || { echo "N must be 1..100000" >&2; exit 2; }
source "$root/tests/cli/lib.sh"
source "$root/tests/dns/lib.sh"
cli_setup "$build/tools/dmarq/dmarq" "$root/tests/data"
missed=0

# gen_bench N DIR: DIR/bench.test.zone (h-198-18-X-Y A 198.18.X.Y),
# DIR/18.198.in-addr.arpa.zone (Y.X PTR h-198-18-X-Y.bench.test.) and
# DIR/report-N.xml (one aggregate report, one record per address).
gen_bench() {
  python3 - "$1" "$2" <<'PY'
import sys
n, d = int(sys.argv[1]), sys.argv[2]
ips = [(1 + i // 250, 1 + i % 250) for i in range(n)]
soa = "@ IN SOA ns1.bench.test. hostmaster.bench.test. 1 3600 600 86400 300\n@ IN NS ns1.bench.test.\n"
with open(f"{d}/bench.test.zone", "w") as f:
    f.write("$ORIGIN bench.test.\n$TTL 3600\n" + soa + "ns1 IN A 127.0.0.1\n")
    for x, y in ips:
        f.write(f"h-198-18-{x}-{y} IN A 198.18.{x}.{y}\n")
with open(f"{d}/18.198.in-addr.arpa.zone", "w") as f:
    f.write("$ORIGIN 18.198.in-addr.arpa.\n$TTL 3600\n" + soa)
    for x, y in ips:
        f.write(f"{y}.{x} IN PTR h-198-18-{x}-{y}.bench.test.\n")
with open(f"{d}/report-{n}.xml", "w") as f:
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n<feedback>\n<report_metadata>'
            "<org_name>DNS bench</org_name><email>bench@receiver.example</email>"
            f"<report_id>dns-bench-{n}</report_id>"
            "<date_range><begin>1793491200</begin><end>1793577599</end></date_range>"
            "</report_metadata>\n<policy_published><domain>bench.test</domain>"
            "<adkim>r</adkim><aspf>r</aspf><p>none</p></policy_published>\n")
    for x, y in ips:
        f.write(f"<record><row><source_ip>198.18.{x}.{y}</source_ip><count>1</count>"
                "<policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf>"
                "</policy_evaluated></row><identifiers><header_from>bench.test</header_from></identifiers>"
                "<auth_results><spf><domain>bench.test</domain><result>pass</result></spf></auth_results>"
                "</record>\n")
    f.write("</feedback>\n")
PY
}

# seconds CMD...: runs CMD, prints its wall time in seconds (3 decimals);
# CMD's output goes to $work/.out / .err, its status to $work/.rc.
seconds() {
  local t0 t1
  t0=$(date +%s%N)
  set +e
  "$@" >"$work/.out" 2>"$work/.err"
  echo $? >"$work/.rc"
  set -e
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'
}

# --- 1. N addresses against NSD ----------------------------------------------
mkdir -p "$work/bench"
gen_bench "$n" "$work/bench"
dns_start "$work/bench/bench.test.zone" "$work/bench/18.198.in-addr.arpa.zone"
dns_expect 1.1.18.198.in-addr.arpa PTR NOERROR "h-198-18-1-1.bench.test"
db=$work/bench.sqlite
"$DMARQ" --db "$db" ingest "$work/bench/report-$n.xml" >/dev/null
sources=$(sql 'SELECT COUNT(DISTINCT source_ip) FROM record')
[[ "$sources" == "$n" ]] || fail "expected $n distinct sources in the database, got $sources"

q0=$(dns_queries)
elapsed=$(seconds dqd enrich --resolver "$DNS_SERVER")
[[ $(cat "$work/.rc") == 0 ]] || fail "enrich exited $(cat "$work/.rc"): $(cat "$work/.err")"
q1=$(dns_queries)
ok=$(sql "SELECT COUNT(*) FROM ip_info WHERE ptr_status = 'ok' AND fcrdns = 1")
rate=$(awk -v n="$n" -v s="$elapsed" 'BEGIN { printf "%.0f", n / s }')
verdict=ok
awk -v s="$elapsed" 'BEGIN { exit !(s <= 5) }' || { verdict=MISSED; missed=1; }
echo "== PTR + FCrDNS against NSD (127.0.0.1:$DNS_PORT, one server process)"
printf '%-10s %-9s %-10s %-12s %-10s %-12s %s\n' addresses queries seconds addresses/s fcrdns_ok target verdict
printf '%-10s %-9s %-10s %-12s %-10s %-12s %s\n' "$n" "$((q1 - q0))" "$elapsed" "$rate" "$ok" "<= 5 s" "$verdict"
[[ "$ok" == "$n" ]] || { echo "only $ok of $n addresses forward-confirmed" >&2; missed=1; }
dns_stop

# --- 2. The black hole: T x ceil(M / C) + 1 s ----------------------------------
blackhole_start
echo
echo "== Against a resolver that never answers (127.0.0.1:$BLACKHOLE_PORT)"
printf '%-8s %-6s %-6s %-9s %-10s %-10s %s\n' lookups conc timeout packets seconds bound verdict
for mct in "256 64 1" "1000 250 1" "100 10 2" "64 64 3"; do
  read -r m c t <<<"$mct"
  db=$work/hole-$m.sqlite
  [[ -f "$work/bench/report-$m.xml" ]] || gen_bench "$m" "$work/bench"
  "$DMARQ" --db "$db" ingest "$work/bench/report-$m.xml" >/dev/null
  b0=$(blackhole_packets)
  elapsed=$(seconds dqd enrich --resolver "$BLACKHOLE_SERVER" --dns-timeout "$t" --dns-concurrency "$c")
  b1=$(blackhole_packets)
  bound=$((t * ((m + c - 1) / c) + 1))
  verdict=ok
  awk -v s="$elapsed" -v b="$bound" 'BEGIN { exit !(s <= b) }' || { verdict=MISSED; missed=1; }
  printf '%-8s %-6s %-6s %-9s %-10s %-10s %s\n' "$m" "$c" "$t" "$((b1 - b0))" "$elapsed" "$bound s" "$verdict"
done
exit "$missed"
