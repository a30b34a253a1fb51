#!/usr/bin/env bash
# `dmarq check` against a real authoritative server (NSD on 127.0.0.1, a
# high port; tests/dns/lib.sh):
#   - a clean domain (example.test: SPF "mx -all" covering its MX host,
#     DMARC p=reject, a 2048-bit DKIM key made now, MX host with IPv4 and
#     IPv6 and PTRs back) exits 0 with no error finding, in JSON and table;
#   - the seed case, afspraakmanager.be, served unchanged from
#     ../shared/reference/seed-case/afspraakmanager.be.zone plus our reverse
#     zone, exits 1 and reports every problem the zone has: no SPF at the
#     apex, the SPF record misplaced at afspraakmanager.be.afspraakmanager.be
#     and published only as type SPF (99), +all and ptr in it, no DMARC
#     record, DKIM selector "mail" missing, selector "default" in a bad
#     format, and an MX host with neither IPv6 nor a PTR that resolves back.
#     In JSON (codes, counts) and in the table. Skips (exit 77) when
#     ../shared is not beside the checkout, after the clean-domain checks.
# Every dmarq call names --resolver 127.0.0.1:PORT (dqd enforces it).
set -euo pipefail
here=$(dirname "$0")
source "$here/../cli/lib.sh"
source "$here/lib.sh"
cli_setup "$@"

dns_make_example_zone "$work/zones"
zones=("$work/zones/example.test.zone" "$DNS_ZONES/2.0.192.in-addr.arpa.zone"
  "$DNS_ZONES/8.b.d.0.1.0.0.2.ip6.arpa.zone")
seed=$(dns_seed_zone) || seed=""
if [[ -n "$seed" ]]; then
  zones+=("$seed" "$DNS_ZONES/96.230.37.in-addr.arpa.zone")
fi
dns_start "${zones[@]}"

# findings FILE: "severity code" per finding of a check's JSON, and checks
# the document's shape on the way (domain, counts, fields).
findings() {
  python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for key in ("domain", "findings", "errors", "warnings"):
    assert key in d, f"no {key!r} in {sorted(d)}"
fs = d["findings"]
assert isinstance(fs, list), "findings is not a list"
for f in fs:
    for key in ("severity", "code", "name", "record", "message", "fix"):
        assert isinstance(f.get(key), str), f"finding without string {key!r}: {f}"
    assert f["severity"] in ("error", "warning", "info"), f"bad severity: {f}"
    assert f["code"] and f["message"], f"empty code or message: {f}"
errors = sum(f["severity"] == "error" for f in fs)
warnings = sum(f["severity"] == "warning" for f in fs)
assert d["errors"] == errors, f"errors says {d['errors']}, findings have {errors}"
assert d["warnings"] == warnings, f"warnings says {d['warnings']}, findings have {warnings}"
for f in fs:
    print(f["severity"], f["code"])
PY
}

# finding FILE CODE: the finding CODE of a check's JSON, as one line of
# "name | record | message" (fails when there is none).
finding() {
  python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
hits = [f for f in d["findings"] if f["code"] == sys.argv[2]]
if not hits:
    sys.exit(f"no finding {sys.argv[2]}")
print(" | ".join(hits[0][k] for k in ("name", "record", "message")))
PY
}

# --- The clean domain --------------------------------------------------------
dns_expect example.test TXT NOERROR "v=spf1 mx -all"
dns_expect example.test MX NOERROR "10 mx1.example.test"
dns_expect 25.2.0.192.in-addr.arpa PTR NOERROR "mx1.example.test"
dns_expect mx1.example.test AAAA NOERROR "2001:db8::25"

expect_exit 0 dqd check example.test --selector mail --resolver "$DNS_SERVER" --format json
printf '%s\n' "$out" >"$work/clean.json"
clean=$(findings "$work/clean.json") || fail "clean JSON: $clean"
expect_not_contains "clean domain: error findings" "error " "$clean"
expect_eq "clean domain: errors" 0 "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["errors"])' "$work/clean.json")"
expect_eq "clean domain: domain" example.test "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["domain"])' "$work/clean.json")"
for code in spf.missing spf.plus_all spf.ptr dmarc.missing dkim.missing dkim.bad_format \
  mx.no_ipv6 mx.no_ptr mx.fcrdns_mismatch dns.temporary; do
  expect_not_contains "clean domain: finding $code" " $code"$'\n' "$clean"$'\n'
done

# The table, and a run without --db at all (HOME is $work): also exit 0.
expect_exit 0 "$DMARQ" check example.test --selector mail --resolver "$DNS_SERVER" --format table
expect_not_contains "clean table: an error" "spf.missing" "$out"
[[ -n "$out" ]] || fail "clean table: no output"

if [[ -z "$seed" ]]; then
  dns_skip "clean domain checked; no seed case at $DNS_REPO/../shared/reference/seed-case (../shared beside the checkout is missing)"
fi

# --- The seed case -----------------------------------------------------------
# The zone as it is served (named-checkzone -D would show the same): nothing
# at the apex but A/MX/NS/SOA, the SPF record one level down and only as
# type 99, a DKIM record with literal backslashes, an MX host without AAAA,
# and our PTR for its address naming a host the zone does not have.
dns_expect afspraakmanager.be TXT NOERROR ""
dns_expect afspraakmanager.be SPF NOERROR ""
dns_expect afspraakmanager.be.afspraakmanager.be SPF NOERROR "v=spf1 a mx ptr +all"
dns_expect afspraakmanager.be.afspraakmanager.be TXT NOERROR ""
dns_expect _dmarc.afspraakmanager.be TXT NXDOMAIN
dns_expect mail._domainkey.afspraakmanager.be TXT NXDOMAIN
dns_expect afspraakmanager.be MX NOERROR "10 smtp.afspraakmanager.be"
dns_expect smtp.afspraakmanager.be A NOERROR "37.230.96.72"
dns_expect smtp.afspraakmanager.be AAAA NOERROR ""
dns_expect 72.96.230.37.in-addr.arpa PTR NOERROR "mail.afspraakmanager.be"
dns_expect mail.afspraakmanager.be A NXDOMAIN
[[ "$(dns_ask default._domainkey.afspraakmanager.be TXT)" == *'v=DKIM1\; k=rsa\;'* ]] ||
  fail "zone data: the seed DKIM record is not served with its backslashes"

expected_codes=(spf.missing spf.wrong_name spf.type99_only spf.plus_all spf.ptr
  dmarc.missing dkim.missing dkim.bad_format mx.no_ipv6 mx.fcrdns_mismatch)

expect_exit 1 dqd check afspraakmanager.be --selector mail --selector default \
  --resolver "$DNS_SERVER" --format json
printf '%s\n' "$out" >"$work/seed.json"
seed_findings=$(findings "$work/seed.json") || fail "seed JSON: $seed_findings"
expect_eq "seed: domain" afspraakmanager.be "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["domain"])' "$work/seed.json")"
for code in "${expected_codes[@]}"; do
  expect_contains "seed: finding $code" " $code"$'\n' "$seed_findings"$'\n'
done
expect_contains "seed: at least one error" "error " "$seed_findings"
# Everything the check needs is served: nothing may come out "temporary".
expect_not_contains "seed: DNS trouble" " dns.temporary"$'\n' "$seed_findings"$'\n'

# What the findings point at.
f=$(finding "$work/seed.json" spf.wrong_name) || fail "$f"
expect_contains "spf.wrong_name names the misplaced name" "afspraakmanager.be.afspraakmanager.be" "$f"
f=$(finding "$work/seed.json" spf.type99_only) || fail "$f"
expect_contains "spf.type99_only shows the record" "v=spf1 a mx ptr +all" "$f"
f=$(finding "$work/seed.json" spf.plus_all) || fail "$f"
expect_contains "spf.plus_all shows the record" "+all" "$f"
f=$(finding "$work/seed.json" dkim.missing) || fail "$f"
expect_contains "dkim.missing is about selector mail" "mail._domainkey.afspraakmanager.be" "$f"
expect_not_contains "dkim.missing is not about selector default" "default._domainkey" "$f"
f=$(finding "$work/seed.json" dkim.bad_format) || fail "$f"
expect_contains "dkim.bad_format is about selector default" "default._domainkey.afspraakmanager.be" "$f"
f=$(finding "$work/seed.json" mx.no_ipv6) || fail "$f"
expect_contains "mx.no_ipv6 names the MX host" "smtp.afspraakmanager.be" "$f"
f=$(finding "$work/seed.json" mx.fcrdns_mismatch) || fail "$f"
[[ "$f" == *smtp.afspraakmanager.be* || "$f" == *37.230.96.72* ]] ||
  fail "mx.fcrdns_mismatch names neither the MX host nor its address: [$f]"

# The table says the same.
expect_exit 1 dqd check afspraakmanager.be --selector mail --selector default \
  --resolver "$DNS_SERVER" --format table
for code in "${expected_codes[@]}"; do
  expect_contains "seed table: $code" "$code" "$out"
done

echo ok
