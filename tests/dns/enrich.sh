#!/usr/bin/env bash
# `dmarq enrich` against a real authoritative server (NSD on 127.0.0.1,
# tests/dns/lib.sh) serving our reverse and forward test zones: after
# ingesting tests/data/dns/enrich-report.xml, enrich resolves every source
# address's PTR and forward-confirms it, quietly, and
#   - table ip_info has one row per distinct address with the right
#     ptr_status, ptr, fcrdns, base_domain and service (Google from the
#     shipped service map), IPv4 and IPv6, including an address with no PTR,
#     one whose PTR name has no address, and one with two PTRs of which one
#     resolves back;
#   - `export aggregate` (CSV and JSON), empty before, fills
#     source_reverse_dns, source_base_domain, source_fcrdns and source_name
#     from it, for every record (an address appearing twice is filled
#     twice);
#   - --domain limits the work to that domain's records (another domain:
#     no query at all, nothing stored).
# Every dmarq call names --resolver 127.0.0.1:PORT (dqd enforces it).
set -euo pipefail
here=$(dirname "$0")
source "$here/../cli/lib.sh"
source "$here/lib.sh"
cli_setup "$@"
report=$2/dns/enrich-report.xml
[[ -f "$report" ]] || fail "no $report"

dns_start_enrich_zones "$work/zones"
dns_expect 41.128.85.209.in-addr.arpa PTR NOERROR "mail-wm1-f41.google.com"
dns_expect mail-wm1-f41.google.com A NOERROR "209.85.128.41"
dns_expect 41.2.0.192.in-addr.arpa PTR NOERROR "host41.ptr.spf.test"
dns_expect 42.2.0.192.in-addr.arpa PTR NXDOMAIN

expect_exit 0 dq ingest "$report"
expect_eq "records ingested" 7 "$(sql 'SELECT COUNT(*) FROM record')"
# Before enrichment the columns are empty.
expect_exit 0 dq export aggregate --format json
python3 -c '
import json, sys
rows = json.loads(sys.stdin.read())
filled = [r["source_ip_address"] for r in rows
          if r.get("source_reverse_dns") or r.get("source_base_domain") or r.get("source_fcrdns") is not None]
assert not filled, f"enrichment columns filled before enrich: {filled}"
' <<<"$out" || fail "export before enrich"

# --domain of another domain: nothing to resolve, no query.
q0=$(dns_queries)
expect_exit 0 dqd enrich --domain other.example --resolver "$DNS_SERVER"
expect_eq "queries for a domain without records" "$q0" "$(dns_queries)"
expect_eq "ip_info rows for a domain without records" 0 "$(sql 'SELECT COUNT(*) FROM ip_info')"

# The real run: quiet, and every address resolved.
expect_exit 0 dqd enrich --domain example.test --resolver "$DNS_SERVER"
expect_eq "enrich stdout" "" "$out"
expect_eq "enrich stderr" "" "$err"
q1=$(dns_queries)
((q1 > q0)) || fail "enrich sent no query"
echo "enrich: $((q1 - q0)) queries for 6 addresses"

# ip_info, one row per distinct address: ip|ptr_status|ptr|fcrdns|base_domain|service
rows=$(sql "SELECT ip, ptr_status, ptr, fcrdns, base_domain, service FROM ip_info ORDER BY ip")
expect_eq "ip_info rows" 6 "$(grep -c . <<<"$rows")"
row() { grep "^$1|" <<<"$rows" || fail "no ip_info row for $1 in:"$'\n'"$rows"; }
expect_eq "Google host" "209.85.128.41|ok|mail-wm1-f41.google.com|1|google.com|Google" "$(row 209.85.128.41)"
expect_eq "FCrDNS ok" "192.0.2.25|ok|mx1.example.test|1|example.test|" "$(row 192.0.2.25)"
expect_eq "FCrDNS ok, IPv6" "2001:db8::25|ok|mx1.example.test|1|example.test|" "$(row 2001:db8::25)"
expect_eq "PTR without address" "192.0.2.41|ok|host41.ptr.spf.test|0|spf.test|" "$(row 192.0.2.41)"
expect_eq "no PTR" "192.0.2.42|nxdomain||0||" "$(row 192.0.2.42)"
r44=$(row 192.0.2.44)
[[ "$r44" == "192.0.2.44|ok|host41.ptr.spf.test|1|spf.test|" ||
  "$r44" == "192.0.2.44|ok|host44.ptr.spf.test|1|spf.test|" ]] ||
  fail "two PTRs, one resolving back: expected ok, a PTR name, fcrdns 1; got [$r44]"
now=$(date +%s)
expect_eq "resolved_at within the last minute" 6 \
  "$(sql "SELECT COUNT(*) FROM ip_info WHERE resolved_at BETWEEN $((now - 60)) AND $((now + 5))")"

# The export carries it.
expect_exit 0 dq export aggregate --format csv
printf '%s\n' "$out" >"$work/export.csv"
python3 - "$work/export.csv" <<'PY' || fail "export check failed (see above)"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert len(rows) == 7, f"expected 7 rows, got {len(rows)}"
cols = ("source_reverse_dns", "source_base_domain", "source_fcrdns", "source_name")
missing = [c for c in cols if c not in rows[0]]
assert not missing, f"export has no column {missing}; columns: {list(rows[0])}"
want = {
    "209.85.128.41": ("mail-wm1-f41.google.com", "google.com", "true", "Google"),
    "192.0.2.25": ("mx1.example.test", "example.test", "true", ""),
    "2001:db8::25": ("mx1.example.test", "example.test", "true", ""),
    "192.0.2.41": ("host41.ptr.spf.test", "spf.test", "false", ""),
    "192.0.2.42": ("", "", "false", ""),
}
bad, seen = [], {}
for r in rows:
    ip = r["source_ip_address"]
    # Booleans as the export writes all of them (True/False, parsedmarc's).
    got = tuple(r[c].lower() if c == "source_fcrdns" else r[c] for c in cols)
    seen[ip] = seen.get(ip, 0) + 1
    if ip == "192.0.2.44":
        ok = got[0] in ("host41.ptr.spf.test", "host44.ptr.spf.test") and got[1:] == ("spf.test", "true", "")
    elif ip == "192.0.2.42":
        # No PTR: no name; FCrDNS is known to be false, or left empty.
        ok = got[:2] == ("", "") and got[2] in ("false", "") and got[3] == ""
    else:
        ok = got == want.get(ip)
    if not ok:
        bad.append(f"{ip}: {dict(zip(cols, got))}")
assert seen.get("192.0.2.25") == 2, f"192.0.2.25 should be in two rows: {seen}"
assert not bad, "wrong enrichment columns:\n  " + "\n  ".join(bad)
PY
# JSON export: source_fcrdns as a boolean.
expect_exit 0 dq export aggregate --format json
python3 -c '
import json, sys
got = {r["source_ip_address"]: r.get("source_fcrdns") for r in json.loads(sys.stdin.read())}
want = {"209.85.128.41": True, "192.0.2.25": True, "2001:db8::25": True, "192.0.2.41": False,
        "192.0.2.44": True}
bad = {ip: got.get(ip) for ip in want if got.get(ip) is not want[ip]}
assert not bad, f"source_fcrdns in JSON, expected {want}, wrong: {bad}"
no_ptr = got.get("192.0.2.42")
assert no_ptr in (False, None), f"192.0.2.42 (no PTR): {no_ptr!r}"
' <<<"$out" || fail "JSON export of source_fcrdns"

# ingest --enrich does the same right after its commits; the path after
# --resolver ADDRESS is a path, not a second resolver.
db=$work/ingest-enrich.sqlite
expect_exit 0 dqd ingest --enrich --resolver "$DNS_SERVER" "$report"
expect_eq "ingest --enrich: records" 7 "$(sql 'SELECT COUNT(*) FROM record')"
expect_eq "ingest --enrich: one ip_info row per address" 6 "$(sql 'SELECT COUNT(*) FROM ip_info')"
expect_eq "ingest --enrich: the Google host named" "mail-wm1-f41.google.com|1|Google" \
  "$(sql "SELECT ptr, fcrdns, service FROM ip_info WHERE ip = '209.85.128.41'")"

echo ok
