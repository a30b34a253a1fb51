#!/usr/bin/env bash
# `dmarq spf` (RFC 7208 check_host) against a real authoritative server
# (NSD on 127.0.0.1, tests/dns/lib.sh) serving tests/dns/zones/spf.test.zone
# and the reverse zones: the RFC 7208 test-suite scenarios that can be
# written as zone data (qualifiers, all, record selection, ip4/ip6 CIDR, a
# and mx with CIDR, ptr, include result mapping, redirect, exists with
# macros, the 10-lookup and void-lookup limits, include and redirect loops,
# multiple records, no record, a DNS error) each give the suite's result,
# with the right matching term, deciding domain and lookup counts where the
# table says; the whole table again against the warm cache gives the same
# results; --strict-all turns ~all, ?all and +all into fail; dmarq exits 0
# whatever the result and 2 on a bad address. Every dmarq call names
# --resolver 127.0.0.1:PORT (dqd enforces it).
set -euo pipefail
here=$(dirname "$0")
source "$here/../cli/lib.sh"
source "$here/lib.sh"
cli_setup "$@"

dns_start "$DNS_ZONES/spf.test.zone" "$DNS_ZONES/2.0.192.in-addr.arpa.zone" \
  "$DNS_ZONES/8.b.d.0.1.0.0.2.ip6.arpa.zone"
# Spot checks that the zone says what the scenarios rely on.
dns_expect nospace.spf.test TXT NOERROR '"v=spf1" "mx"'
dns_expect type99.spf.test SPF NOERROR "v=spf1 +all"
dns_expect 44.2.0.192.in-addr.arpa PTR NOERROR "host41.ptr.spf.test ; host44.ptr.spf.test"
dns_expect host41.ptr.spf.test A NXDOMAIN
dns_expect 192.0.2.70.gladstone.philip.user.spf.test A NOERROR "127.0.0.2"
[[ "$(dns_ask refused.example TXT)" == "refused.example TXT REFUSED | " ]] ||
  fail "NSD does not refuse names outside its zones: $(dns_ask refused.example TXT)"

# One scenario a line: NAME DOMAIN IP SENDER RESULT [FIELD=VALUE...]
# SENDER "-" means no --sender. FIELD=VALUE: a JSON field that must equal
# VALUE (mechanism, decided_by, dns_lookups, void_lookups). The comment
# after each group names the suite's tests (rfc7208-tests.yml) it follows.
scenarios=$(
  cat <<'EOF'
# Qualifiers (4.6.2) and "all" (5.1): all-neutral all-double all-dot all-arg
# all-cidr default-result empty case-insensitive two-spaces
qual-minus       qual.spf.test        192.0.2.1   - fail      mechanism=-ip4:192.0.2.1 decided_by=qual.spf.test
qual-tilde       qual.spf.test        192.0.2.2   - softfail  mechanism=~ip4:192.0.2.2
qual-question    qual.spf.test        192.0.2.3   - neutral   mechanism=?ip4:192.0.2.3
qual-plus        qual.spf.test        192.0.2.4   - pass      mechanism=+ip4:192.0.2.4
qual-implicit    qual.spf.test        192.0.2.5   - pass      mechanism=ip4:192.0.2.5
qual-all         qual.spf.test        192.0.2.9   - fail      mechanism=-all dns_lookups=0
softall          softall.spf.test     192.0.2.9   - softfail  mechanism=~all
neutralall       neutralall.spf.test  192.0.2.9   - neutral
passall          passall.spf.test     192.0.2.9   - pass
all-double       all-double.spf.test  192.0.2.9   - pass
all-dot          all-dot.spf.test     192.0.2.9   - permerror
all-arg          all-arg.spf.test     192.0.2.9   - permerror
all-cidr         all-cidr.spf.test    192.0.2.9   - permerror
default-result   default.spf.test     192.0.2.5   - neutral
empty            empty.spf.test       192.0.2.9   - neutral
case-insens      case.spf.test        192.0.2.9   - softfail
two-spaces       two-spaces.spf.test  192.0.2.9   - fail
# Record evaluation (4.6): detect-errors-anywhere modifier-charset-good
# modifier-charset-bad1 redirect-is-modifier
errors-anywhere  moo.spf.test         192.0.2.4   - permerror
modifier-good    modifier-ok.spf.test 192.0.2.4   - pass
modifier-bad     modifier-bad.spf.test 192.0.2.4  - permerror
redirect-colon   redirect-colon.spf.test 192.0.2.9 - permerror
# Record selection (4.4, 4.5): nospace1 nospace2 multitxt1 multitxt2
# spfoverride spfonly nospf; a name that does not exist; a DNS error
# (REFUSED: the suite's TIMEOUT, nospftxttimeout/alltimeout)
nospace          nospace.spf.test     192.0.2.9   - none
spf10            spf10.spf.test       192.0.2.4   - pass
multi            multi.spf.test       192.0.2.9   - permerror
multi-case       multi-case.spf.test  192.0.2.9   - permerror
type99-ignored   type99.spf.test      192.0.2.9   - fail
spf-only         spfonly.spf.test     192.0.2.9   - none
no-spf           othertxt.spf.test    192.0.2.9   - none
no-name          nothere.spf.test     192.0.2.9   - none
dns-error        refused.example      192.0.2.9   - temperror
# ip4 / ip6 (5.6): cidr4-0 cidr4-32 cidr4-33 cidr4-032 bare-ip4 bad-ip4-short
# bad-ip4-port ip4-dual-cidr ip4-mapped-ip6 cidr6-0 cidr6-0-ip4 cidr6-ip4
# cidr6-129 cidr6-bad cidr6-33 cidr6-33-ip4 ip6-bad1 bare-ip6
cidr4-in         cidr4.spf.test       198.51.100.77 - pass    mechanism=ip4:198.51.100.0/24
cidr4-out        cidr4.spf.test       198.51.101.1  - fail
cidr4-v6         cidr4.spf.test       2001:db8::1   - fail
cidr4-0          cidr4-0.spf.test     203.0.113.9   - pass
cidr4-32         cidr4-32.spf.test    192.0.2.4   - pass
cidr4-32-out     cidr4-32.spf.test    192.0.2.5   - fail
cidr4-33         cidr4-33.spf.test    192.0.2.4   - permerror
cidr4-032        cidr4-032.spf.test   192.0.2.4   - permerror
bare-ip4         bare-ip4.spf.test    192.0.2.4   - permerror
ip4-short        ip4-short.spf.test   192.0.2.4   - permerror
ip4-port         ip4-port.spf.test    192.0.2.4   - permerror
ip4-dual-cidr    ip4-dual.spf.test    192.0.2.4   - permerror
ip4-mapped-ip6   ip4-mapped.spf.test  ::ffff:192.0.2.4 - fail mechanism=-ip4:192.0.2.4
cidr6-in         cidr6.spf.test       2001:db8:1:2::5 - pass  mechanism=ip6:2001:db8:1::/48
cidr6-out        cidr6.spf.test       2001:db8:2::1 - fail
cidr6-v4         cidr6.spf.test       192.0.2.4   - fail
cidr6-0          cidr6-0.spf.test     2001:db8:ffff::1 - pass
cidr6-0-ip4      cidr6-0.spf.test     192.0.2.4   - neutral
cidr6-ip4mapped  cidr6-0.spf.test     ::ffff:192.0.2.4 - neutral
cidr6-129        cidr6-129.spf.test   192.0.2.4   - permerror
cidr6-bad        cidr6-bad.spf.test   192.0.2.4   - permerror
cidr6-33         cidr6-33.spf.test    cafe:babe:8000:: - pass
cidr6-33-out     cidr6-33.spf.test    cafe:babe::1 - neutral
cidr6-33-ip4     cidr6-33.spf.test    192.0.2.4   - neutral
ip6-bad          ip6-bad.spf.test     192.0.2.4   - permerror
bare-ip6         bare-ip6.spf.test    192.0.2.4   - permerror
# a (5.3): a-dual-cidr-ip4-match a-dual-cidr-ip6-match a-dual-cidr-ip4-default
# a-dual-cidr-ip6-default a-dual-cidr-ip4-err a-bad-cidr4 a-bad-cidr6
# a-multi-ip1 a-nxdomain a-cidr4-0 a-cidr4-0-ip6 a-only-toplabel a-numeric
# a-empty-domain
a-v4             a.spf.test           192.0.2.20  - pass      mechanism=a dns_lookups=1
a-v6             a.spf.test           2001:db8::20 - pass     mechanism=a
a-out            a.spf.test           192.0.2.21  - fail
a-dual-ip4       a-dual.spf.test      198.51.100.4 - pass
a-dual-ip6       a-dual.spf.test      2001:db8:1234::cafe:babe - pass
a-dual-out       a-dual.spf.test      198.51.101.4 - fail
a-ip6-default    a-v4cidr.spf.test    2001:db8:1234::cafe:babe - fail
a-ip4-default    a-v6cidr.spf.test    198.51.100.4 - fail
a-dual-err       a-dual-err.spf.test  198.51.100.4 - permerror
a-bad-cidr4      a-cidr33.spf.test    192.0.2.4   - permerror
a-bad-cidr6      a-cidr129.spf.test   192.0.2.4   - permerror
a-multi-ip1      a-multi.spf.test     203.0.113.77 - pass
a-multi-ip2      a-multi.spf.test     192.0.2.98  - pass
a-multi-out      a-multi.spf.test     198.51.100.1 - fail
a-nxdomain       a-nx.spf.test        192.0.2.4   - fail      void_lookups=1
a-cidr4-0        a-cidr0.spf.test     203.0.113.9 - pass
a-cidr4-0-ip6    a-cidr0.spf.test     2001:db8::1 - fail
a-only-toplabel  a-toplabel.spf.test  192.0.2.4   - permerror
a-numeric        a-numeric.spf.test   192.0.2.4   - permerror
a-empty-domain   a-empty.spf.test     192.0.2.4   - permerror
# mx (5.4): mx-multi-ip1 mx-bad-cidr4 mx-implicit mx-empty (null MX)
# mx-limit
mx-v4            mx.spf.test          192.0.2.30  - pass      mechanism=mx
mx-v6            mx.spf.test          2001:db8::30 - pass
mx-out           mx.spf.test          192.0.2.31  - fail
mx-cidr          mx-cidr.spf.test     192.0.2.31  - pass
mx-cidr-out      mx-cidr.spf.test     198.51.100.31 - fail
mx-bad-cidr4     mx-cidr33.spf.test   192.0.2.30  - permerror
mx-implicit      mx-implicit.spf.test 192.0.2.32  - neutral
mx-null          mx-null.spf.test     192.0.2.4   - neutral
mx-limit         mx-limit.spf.test    192.0.2.33  - permerror
# ptr (5.5): ptr-match-implicit ptr-match-ip6 ptr-nomatch-invalid
# ptr-match-target ptr-cidr ptr-empty-domain; a PTR set with one invalid name
ptr-match        ptr.spf.test         192.0.2.40  - pass      mechanism=ptr
ptr-match-ip6    ptr.spf.test         2001:db8::40 - pass
ptr-invalid      ptr.spf.test         192.0.2.41  - fail
ptr-none         ptr.spf.test         192.0.2.42  - fail
ptr-second       ptr.spf.test         192.0.2.44  - pass
ptr-target       ptr-target.spf.test  192.0.2.40  - pass      mechanism=ptr:spf.test
ptr-other        ptr-other.spf.test   192.0.2.40  - fail
ptr-cidr         ptr-cidr.spf.test    192.0.2.40  - permerror
ptr-empty        ptr-empty.spf.test   192.0.2.40  - permerror
# include (5.2): include-fail include-softfail include-neutral
# include-temperror include-permerror include-none include-empty-domain
# include-cidr include-syntax-error; ours: pass, and a "-include"
include-pass     include-pass.spf.test     192.0.2.50 - pass  mechanism=include:inc50.spf.test dns_lookups=1
include-minus    include-minus.spf.test    192.0.2.50 - fail  mechanism=-include:inc50.spf.test
include-fail     include-fail.spf.test     192.0.2.60 - softfail mechanism=~all
include-softfail include-softfail.spf.test 192.0.2.60 - pass  mechanism=all
include-neutral  include-neutral.spf.test  192.0.2.60 - fail  mechanism=-all
include-temperror include-temperror.spf.test 192.0.2.60 - temperror
include-permerror include-permerror.spf.test 192.0.2.60 - permerror
include-none     include-none.spf.test     192.0.2.60 - permerror
include-nx       include-nx.spf.test       192.0.2.60 - permerror
include-empty    include-empty.spf.test    192.0.2.60 - permerror
include-cidr     include-cidr.spf.test     192.0.2.50 - permerror
include-bare     include-bare.spf.test     192.0.2.60 - permerror
# redirect (6.1): redirect-after-mechanisms1/2 redirect-none
# redirect-implicit redirect-loop redirect-twice redirect-empty-domain
# redirect-syntax-error; ours: the target decides
redirect         redirect.spf.test         192.0.2.90 - pass  decided_by=red-target.spf.test mechanism=ip4:192.0.2.90
redirect-fail    redirect.spf.test         192.0.2.91 - fail  decided_by=red-target.spf.test mechanism=-all
redirect-after   redirect-after.spf.test   192.0.2.92 - pass  decided_by=redirect-after.spf.test
redirect-after-2 redirect-after.spf.test   192.0.2.91 - fail  decided_by=red-target.spf.test
redirect-ignored redirect-ignored.spf.test 192.0.2.9  - softfail
redirect-none    redirect-none.spf.test    192.0.2.9  - permerror
redirect-nx      redirect-nx.spf.test      192.0.2.9  - permerror
redirect-implicit redirect-implicit.spf.test 192.0.2.94 - pass
redirect-impl-2  redirect-implicit.spf.test 192.0.2.93 - fail
redirect-loop    redirect-loop.spf.test    192.0.2.4  - permerror
redirect-twice   redirect-twice.spf.test   192.0.2.90 - permerror
redirect-empty   redirect-empty.spf.test   192.0.2.9  - permerror
redirect-syntax  redirect-bad.spf.test     192.0.2.9  - permerror
# exists (5.7) and macros (7): exists-ip4 exists-ip6 exists-ip6only
# exists-empty-domain exists-implicit exists-cidr exists-dnserr
# v-macro-ip4/ip6 (as %{ir}.%{v}) macro-reverse-split-on-dash
# macro-multiple-delimiters trailing-dot-domain invalid-macro-char
# invalid-trailing-macro-char undef-macro exp-only-macro-char; ours: %{i},
# %{l}, %{d2}
exists-ip4       exists-a.spf.test         192.0.2.4   - pass
exists-ip6       exists-a.spf.test         2001:db8::99 - pass
exists-ip6only   exists-a6only.spf.test    2001:db8::10 - fail
exists-empty     exists-empty.spf.test     192.0.2.4   - permerror
exists-implicit  exists-bare.spf.test      192.0.2.4   - permerror
exists-cidr      exists-cidr.spf.test      192.0.2.4   - permerror
exists-dnserr    exists-err.spf.test       192.0.2.4   - temperror
macro-i          exists-i.spf.test         192.0.2.61  - pass   mechanism=exists:%{i}.allow.spf.test
macro-i-out      exists-i.spf.test         192.0.2.62  - fail
macro-ir-v4      exists-ir.spf.test        192.0.2.61  - pass
macro-ir-v6      exists-ir.spf.test        2001:db8::61 - pass
macro-ir-out     exists-ir.spf.test        192.0.2.62  - fail
macro-l          exists-l.spf.test         192.0.2.9   alice@exists-l.spf.test pass
macro-l-out      exists-l.spf.test         192.0.2.9   bob@exists-l.spf.test   fail
macro-d2         d.e.exists-d2.spf.test    192.0.2.9   - pass
macro-l2r-dash   lsplit.spf.test           192.0.2.70  philip-gladstone-test@lsplit.spf.test pass
macro-l2r-dash-2 lsplit.spf.test           192.0.2.71  philip-gladstone-test@lsplit.spf.test neutral
macro-l2r-multi  lsplit2.spf.test          192.0.2.9   foo-bar+zip+quux@lsplit2.spf.test pass
macro-l2r-multi2 lsplit2.spf.test          192.0.2.9   foo@lsplit2.spf.test neutral
macro-trailing-dot macro-redir.spf.test    192.0.2.80  - pass   dns_lookups=2
macro-trailing-2 macro-redir.spf.test      192.0.2.81  - softfail
macro-bad-char   macro-paren.spf.test      192.0.2.4   - permerror
macro-bad-trail  macro-trail.spf.test      192.0.2.4   - permerror
macro-undef      macro-undef.spf.test      192.0.2.4   - permerror
macro-exp-only   macro-exponly.spf.test    192.0.2.4   - permerror
# Processing limits (4.6.4): mech-at-limit mech-over-limit include-at-limit
# include-over-limit false-a-limit void-at-limit void-over-limit
# include-loop redirect-loop; ours: ten/eleven includes in a row and nested
lim-mech-10      mech-at-limit.spf.test    192.0.2.100 - pass   dns_lookups=10
lim-mech-11      mech-over-limit.spf.test  192.0.2.100 - permerror
lim-include-10   include-at-limit.spf.test 192.0.2.100 - pass   dns_lookups=10
lim-include-11   include-over-limit.spf.test 192.0.2.100 - permerror
lim-row-10       inc10.spf.test            192.0.2.105 - pass   dns_lookups=10
lim-row-11       inc11.spf.test            192.0.2.105 - permerror
lim-nest-10      nest10.spf.test           192.0.2.106 - pass   dns_lookups=10
lim-nest-11      nest11.spf.test           192.0.2.106 - permerror
lim-many-a       many-a.spf.test           192.0.2.122 - pass   dns_lookups=1
void-at-limit    void-at-limit.spf.test    192.0.2.4   - neutral void_lookups=2
void-over-limit  void-over-limit.spf.test  192.0.2.4   - permerror
include-loop     loop1.spf.test            192.0.2.4   - permerror
include-loop-3   loopa.spf.test            192.0.2.9   - permerror
EOF
)

# run_table DIR: every scenario through dmarq, its JSON in DIR/NAME.json and
# exit status in DIR/NAME.rc.
run_table() {
  local dir=$1 name domain ip sender expected rest
  mkdir -p "$dir"
  while read -r name domain ip sender expected rest; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    local -a args=(spf "$domain" "$ip" --resolver "$DNS_SERVER" --format json)
    [[ "$sender" == - ]] || args+=(--sender "$sender")
    set +e
    dqd "${args[@]}" >"$dir/$name.json" 2>"$dir/$name.err"
    echo $? >"$dir/$name.rc"
    set -e
  done <<<"$scenarios"
}

# check_table DIR: compares DIR's outputs with the table; prints every
# mismatch (not just the first) and fails when there is one.
check_table() {
  printf '%s\n' "$scenarios" >"$work/scenarios.txt"
  python3 - "$1" "$work/scenarios.txt" <<'PY'
import json, os, sys
out_dir, table = sys.argv[1], sys.argv[2]
bad, n = [], 0
results = {"none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"}
for line in open(table):
    if not line.strip() or line.startswith("#"):
        continue
    name, domain, ip, sender, expected, *fields = line.split()
    n += 1
    where = f"{name} ({domain} {ip}{'' if sender == '-' else ' ' + sender})"
    rc = open(os.path.join(out_dir, name + ".rc")).read().strip()
    err = open(os.path.join(out_dir, name + ".err")).read().strip()
    if rc != "0":
        bad.append(f"{where}: exit {rc}, stderr: {err[:300]}")
        continue
    try:
        d = json.load(open(os.path.join(out_dir, name + ".json")))
    except ValueError as e:
        bad.append(f"{where}: not JSON ({e})")
        continue
    missing = [k for k in ("domain", "ip", "sender", "result", "mechanism", "decided_by",
                           "dns_lookups", "void_lookups", "problem", "trace") if k not in d]
    if missing:
        bad.append(f"{where}: JSON without {missing}")
        continue
    if d["result"] not in results:
        bad.append(f"{where}: result {d['result']!r} is not an SPF result")
    if d["result"] != expected:
        bad.append(f"{where}: expected {expected}, got {d['result']}"
                   f" (mechanism {d['mechanism']!r}, problem {d['problem']!r})")
        continue
    if d["domain"].lower() != domain.lower():
        bad.append(f"{where}: domain {d['domain']!r}")
    if not isinstance(d["trace"], list):
        bad.append(f"{where}: trace is not a list")
    if expected in ("permerror", "temperror") and not d["problem"]:
        bad.append(f"{where}: {expected} without a problem sentence")
    for field in fields:
        key, want = field.split("=", 1)
        got = str(d.get(key))
        if got != want:
            bad.append(f"{where}: {key} expected {want!r}, got {got!r}")
for b in bad:
    print("MISMATCH " + b)
print(f"{n} scenarios, {len(bad)} mismatches")
sys.exit(1 if bad else 0)
PY
}

# The table against a cold cache (a fresh database), then again against the
# warm one: the same results both times.
q0=$(dns_queries)
run_table "$work/cold"
q1=$(dns_queries)
report=$(check_table "$work/cold") || fail "SPF scenarios, cold cache:"$'\n'"$report"
echo "cold cache: $report, $((q1 - q0)) queries"
run_table "$work/warm"
q2=$(dns_queries)
report=$(check_table "$work/warm") || fail "SPF scenarios, warm cache:"$'\n'"$report"
echo "warm cache: $report, $((q2 - q1)) queries"
((q2 - q1 < q1 - q0)) || fail "the warm run sent $((q2 - q1)) queries, the cold one $((q1 - q0))"

# --strict-all: what tightening every "all" to "-all" would do.
strict() {  # DOMAIN IP EXPECTED [--strict-all]
  expect_exit 0 dqd spf "$1" "$2" --resolver "$DNS_SERVER" --format json "${@:4}"
  got=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["result"])' <<<"$out")
  expect_eq "spf $1 $2 ${4:-}" "$3" "$got"
}
strict softall.spf.test 192.0.2.9 softfail
strict softall.spf.test 192.0.2.9 fail --strict-all
strict neutralall.spf.test 192.0.2.9 fail --strict-all
strict passall.spf.test 192.0.2.9 fail --strict-all
strict softall.spf.test 192.0.2.4 pass --strict-all
strict include-softfail.spf.test 192.0.2.60 fail --strict-all

# Text output says the result too; a bad address or resolver is a usage
# error (2), and neither asks anything.
expect_exit 0 dqd spf softall.spf.test 192.0.2.9 --resolver "$DNS_SERVER" --format text
expect_contains "text output" softfail "$out"
q3=$(dns_queries)
expect_exit 2 dqd spf softall.spf.test 192.0.2.999 --resolver "$DNS_SERVER"
expect_exit 2 "$DMARQ" --db "$db" spf softall.spf.test 192.0.2.9 --resolver not-an-address
expect_eq "queries for usage errors" "$q3" "$(dns_queries)"

echo ok
