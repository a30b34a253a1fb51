#!/usr/bin/env bash
# export aggregate: parsedmarc's CSV columns, JSON, -o, filters, CSV injection.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cli_setup "$@"

expect_exit 0 dq ingest "$DATA/basic.xml" "$DATA/dmarcbis.xml"

header='xml_schema,org_name,org_email,org_extra_contact_info,report_id,begin_date,end_date,normalized_timespan,errors,domain,adkim,aspf,p,sp,np,pct,fo,testing,discovery_method,source_ip_address,source_country,source_reverse_dns,source_base_domain,source_name,source_type,source_asn,source_as_name,source_as_domain,count,spf_aligned,dkim_aligned,dmarc_aligned,disposition,policy_override_reasons,policy_override_comments,envelope_from,header_from,envelope_to,dkim_domains,dkim_selectors,dkim_results,spf_domains,spf_scopes,spf_results,source_fcrdns'
dq export aggregate --format csv >"$work/stdout.csv"
csv=$(cat "$work/stdout.csv")
expect_eq "CSV header" "$header"$'\r' "$(head -n 1 "$work/stdout.csv")"
expect_eq "header columns (parsedmarc's 44, then source_fcrdns)" 45 "$(head -n 1 "$work/stdout.csv" | tr ',' '\n' | wc -l)"
expect_eq "CSV data rows" 4 "$(csv_rows "$csv")"
expect_eq "lines without CRLF" 0 "$(grep -vc $'\r$' "$work/stdout.csv" || true)"

expect_exit 0 dq export aggregate --format csv -o "$work/file.csv"
expect_eq "stdout with -o" "" "$out"
cmp -s "$work/stdout.csv" "$work/file.csv" || fail "-o FILE differs from stdout"

expect_exit 0 dq export aggregate --format csv --domain example.org
expect_eq "example.org rows" 1 "$(csv_rows "$out")"
expect_contains "example.org row" ",bis-42," "$out"

dq export aggregate --format json >"$work/export.json"
python3 - "$work/export.json" <<'PY' || fail "JSON export check failed (see above)"
import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d, list) and len(d) == 4, f"expected a list of 4, got {type(d).__name__} of {len(d)}"
assert all(isinstance(r, dict) and "source_ip_address" in r for r in d), "rows without source_ip_address"
ips = sorted(r["source_ip_address"] for r in d)
assert "2001:db8::1" in ips, f"2001:db8::1 not among {ips}"
PY

# Formula injection: a cell starting with '=' is neutralised.
sed -e 's|<org_name>Example Receiver</org_name>|<org_name>=cmd\|calc</org_name>|' \
    -e 's|<report_id>r-20261101-0001@receiver.example</report_id>|<report_id>evil-1</report_id>|' \
    "$DATA/basic.xml" >"$work/evil.xml"
grep -q '<org_name>=cmd|calc</org_name>' "$work/evil.xml" || fail "test setup: sed did not change org_name"
expect_exit 0 dq ingest "$work/evil.xml"
expect_exit 0 dq export aggregate --format csv
expect_eq "CSV data rows with evil report" 7 "$(csv_rows "$out")"
printf '%s\n' "$out" >"$work/evil.csv"
python3 - "$work/evil.csv" <<'PY' || fail "CSV injection check failed (see above)"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
orgs = sorted({r["org_name"] for r in rows})
assert "'=cmd|calc" in orgs, f"expected org_name '=cmd|calc, got {orgs}"
bad = [c for r in rows for c in r.values() if c.startswith("=")]
assert not bad, f"cells starting with '=': {bad}"
PY

echo ok
