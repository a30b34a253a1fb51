#!/usr/bin/env bash
# dmarq html in a real browser: Debian's headless Chromium, driven by
# chromedriver on 127.0.0.1 (tests/html/check_page.py), loads the generated
# reports from file:// and checks that they render without console errors,
# fetch nothing, show the figures of `dmarq readiness --format json`, show
# report text as text without running it, fit a phone, follow dark mode,
# sort, read without JavaScript and print to PDF. Screenshots and PDFs stay
# in ARTIFACTS_DIR (under the build folder) for CI.
#   browser.sh DMARQ TESTS_DATA_DIR ARTIFACTS_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../cli/lib.sh"
artifacts=$3
cli_setup "$1" "$2"
samples=$(cd "$2/../../samples" && pwd)
cfg=$2/analyze/dmarq.toml
rm -rf "$artifacts"
mkdir -p "$artifacts"

# check PAGE NAME ARGS...: check_page.py on PAGE, artifacts under NAME.
check() {
  local page=$1 name=$2
  shift 2
  set +e
  python3 "$here/check_page.py" --page "$page" --artifacts "$artifacts/$name" "$@" >"$work/check.out" 2>&1
  local rc=$?
  set -e
  cat "$work/check.out"
  cp "$page" "$artifacts/$name/"
  [[ $rc == 0 ]] || fail "check_page.py on $name exited $rc"
}

# 1. The fixed database of tests/cli/html.sh: the seed case, example.com
#    with a reporter whose name carries markup, complaints and bounces.
expect_exit 0 dq ingest "$samples"/reports/*afspraakmanager.be* "$2"/analyze/*.xml "$2"/html/injected.xml \
  "$2"/mixed/{arf-abuse,jmrp,bounce,failure}.eml
oct=(--offline --since 2026-10-01 --until 2026-10-31)
expect_exit 0 dq --config "$cfg" html "${oct[@]}" -o "$work/report.html"
readiness=()
for d in afspraakmanager.be example.com; do
  expect_exit 0 dq --config "$cfg" readiness "${oct[@]}" --domain "$d" --format json
  printf '%s\n' "$out" >"$work/$d.json"
  readiness+=(--readiness "$d=$work/$d.json")
done
check "$work/report.html" fixed "${readiness[@]}" \
  --injected 'Evil <script>window.__dmarqInjected=1</script><img src=x onerror="window.__dmarqInjected=2"> Mail'

# 2. A big domain: 1,500 sources over 365 days, so that the charts and
#    tables must fold the long tail into "others" and stay legible.
python3 - "$work/big" <<'EOF'
import os, sys
out = sys.argv[1]
os.makedirs(out)
day0 = 1761955200  # 2025-11-01T00:00:00Z
for d in range(365):
    begin = day0 + d * 86400
    recs = []
    for k in range(60):
        i = (d * 37 + k * 101) % 1500
        ip = f"198.18.{i // 250}.{i % 250 + 1}"
        ok = i % 7 != 0
        recs.append(f"""<record><row><source_ip>{ip}</source_ip><count>{1 + (i * 13 + d) % 400}</count>
<policy_evaluated><disposition>none</disposition><dkim>{'pass' if ok else 'fail'}</dkim><spf>fail</spf></policy_evaluated></row>
<identifiers><header_from>big.example</header_from></identifiers>
<auth_results><dkim><domain>big.example</domain><selector>s1</selector><result>{'pass' if ok else 'fail'}</result></dkim>
<spf><domain>big.example</domain><result>softfail</result></spf></auth_results></record>""")
    with open(f"{out}/big-{d:03}.xml", "w") as f:
        f.write(f"""<?xml version="1.0"?><feedback><report_metadata><org_name>Receiver {d % 3}</org_name>
<email>r@receiver.example</email><report_id>big-{d}</report_id><date_range><begin>{begin}</begin>
<end>{begin + 86399}</end></date_range></report_metadata><policy_published><domain>big.example</domain>
<p>none</p></policy_published>{''.join(recs)}</feedback>""")
EOF
expect_exit 0 dq ingest "$work/big"
year=(--offline --since 2025-11-01 --until 2026-10-31 --domain big.example)
expect_exit 0 dq --config "$cfg" html "${year[@]}" -o "$work/big.html"
expect_exit 0 dq --config "$cfg" readiness "${year[@]}" --format json
printf '%s\n' "$out" >"$work/big.json"
big=$(cat "$work/big.html")
expect_contains "1,500 sources" "1,500 source(s) sent as big.example" "$big"
expect_eq "100 source rows, then others" 1 "$(grep -o '<tr class="others"><td colspan="2">others: 1,400 smaller sources' <<<"$big" | wc -l)"
expect_contains "10 bars, then others" "others (1,490)" "$big"
check "$work/big.html" big --readiness "big.example=$work/big.json"
echo "ok"
