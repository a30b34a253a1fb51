#!/usr/bin/env bash
# dmarq html without a browser: the charts of a fixed database against golden
# files, the page's self-containment, escaping of report text, domain
# selection, TZ independence and atomic replacement. tests/html/browser.sh
# loads the same page in Chromium. DMARQ_UPDATE_GOLDEN=1 rewrites the goldens.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cli_setup "$@"
samples=$(cd "$2/../../samples" && pwd)
golden_dir=$2/golden/html
cfg=$2/analyze/dmarq.toml

expect_exit 0 dq ingest "$samples"/reports/*afspraakmanager.be* "$2"/analyze/*.xml "$2"/html/injected.xml \
  "$2"/mixed/{arf-abuse,jmrp,bounce,failure}.eml
oct=(--offline --since 2026-10-01 --until 2026-10-31)

# mask: the page without its one clock-dependent part (when it was made).
mask() { sed -E 's/generated [0-9T:Z-]+ by dmarq/generated (time) by dmarq/' "$1"; }

expect_exit 0 dq --config "$cfg" html "${oct[@]}" -o "$work/all.html"
expect_eq "quiet on success" "" "$out$err"
page=$(cat "$work/all.html")

# The charts, as generated from this database, against the goldens: per
# domain the trend and the top sources, then complaints and bounces.
mkdir -p "$work/svg"
python3 - "$work/all.html" "$work/svg" <<'EOF'
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
for i, svg in enumerate(re.findall(r"<svg\b.*?</svg>", page, re.S), 1):
    open(f"{sys.argv[2]}/chart-{i}.svg", "w", encoding="utf-8").write(svg + "\n")
EOF
expect_eq "charts: 2 per domain (2 domains) + complaints and bounces" 5 "$(ls "$work/svg" | wc -l)"
for f in "$work"/svg/*.svg; do
  name=$(basename "$f")
  if [[ "${DMARQ_UPDATE_GOLDEN:-}" == 1 ]]; then cp "$f" "$golden_dir/db-$name"; fi
  [[ -f "$golden_dir/db-$name" ]] || fail "no golden $golden_dir/db-$name (run with DMARQ_UPDATE_GOLDEN=1)"
  diff -u "$golden_dir/db-$name" "$f" >&2 || fail "chart $name differs from golden db-$name"
done

# Self-contained: one inline script, nothing to fetch, a CSP that forbids
# fetching and any script but ours.
expect_eq "one script element" 1 "$(grep -o '<script' <<<"$page" | wc -l)"
expect_not_contains "no external script" "<script src" "$page"
expect_not_contains "no stylesheet link" "<link" "$page"
expect_not_contains "no CSS import" "@import" "$page"
expect_not_contains "no CSS url()" "url(" "$page"
expect_eq "the only URL is the SVG namespace" "http://www.w3.org/2000/svg" \
  "$(grep -oE '(https?:)?//[a-zA-Z0-9.-]+[^"<> ]*' <<<"$page" | sort -u)"
expect_contains "CSP" "Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-" "$page"
# The hash in the CSP is that of the script the page carries.
python3 - "$work/all.html" <<'EOF' || fail "the CSP hash does not match the page's script"
import base64, hashlib, re, sys
page = open(sys.argv[1], encoding="utf-8").read()
want = re.search(r"script-src 'sha256-([^']+)'", page).group(1)
script = re.search(r"<script>(.*?)</script>", page, re.S).group(1)
sys.exit(0 if base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() == want else 1)
EOF

# Report text is escaped wherever it shows: the reporter, the selector and
# the envelope domain of tests/data/html/injected.xml.
expect_not_contains "raw script from org_name" "<script>window" "$page"
expect_not_contains "raw img from org_name" "<img" "$page"
expect_not_contains "raw svg from envelope_from" "<svg onload" "$page"
expect_contains "org_name as text" \
  "Evil &lt;script&gt;window.__dmarqInjected=1&lt;/script&gt;&lt;img src=x onerror=&quot;window.__dmarqInjected=2&quot;&gt; Mail" \
  "$page"

# Headline figures carry their raw values; they match readiness's JSON
# (tests/html/browser.sh compares every figure, in the browser).
run dq --config "$cfg" readiness "${oct[@]}" --domain example.com --format json
total=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["dmarc_enforce"]["messages"])' <<<"$out")
section=$(python3 -c 'import re,sys; print(re.search(r"<section class=\"domain\"[^>]*data-domain=\"example.com\".*?</section>", sys.stdin.read(), re.S).group(0))' <"$work/all.html")
expect_contains "example.com messages" "data-k=\"messages\" data-v=\"$total\"" "$section"
expect_contains "complaints" 'data-k="complaints" data-v="2"' "$page"
expect_contains "bounced recipients" 'data-k="bounces" data-v="2"' "$page"

# --domain: one section (normalized, repeatable, de-duplicated); no overview table.
expect_exit 0 dq --config "$cfg" html "${oct[@]}" --domain EXAMPLE.com. --domain example.com -o "$work/one.html"
one=$(cat "$work/one.html")
expect_eq "one domain section" 1 "$(grep -o '<section class="domain"' <<<"$one" | wc -l)"
expect_contains "the asked domain" 'data-domain="example.com"' "$one"
expect_not_contains "no overview for one domain" 'class="sortable overview"' "$one"
expect_eq "all domains: two sections" 2 "$(grep -o '<section class="domain"' <<<"$page" | wc -l)"
# A domain without reports says so and what to do.
expect_exit 0 dq --config "$cfg" html "${oct[@]}" --domain nothing.example -o "$work/none.html"
expect_contains "no reports" "No reports for nothing.example in this period" "$(cat "$work/none.html")"

# --top: the long tail becomes one "others" row.
expect_exit 0 dq --config "$cfg" html "${oct[@]}" --domain example.com --top 1 -o "$work/top.html"
expect_contains "others row" '<tr class="others"><td colspan="2">others: ' "$(cat "$work/top.html")"

# Output does not depend on TZ; standard output works as -o -.
TZ=Pacific/Kiritimati dq --config "$cfg" html "${oct[@]}" -o "$work/kiri.html"
diff <(mask "$work/all.html") <(mask "$work/kiri.html") >&2 || fail "the page depends on TZ"
expect_exit 0 dq --config "$cfg" html "${oct[@]}" -o -
diff <(mask "$work/all.html") <(printf '%s\n' "$out" | sed -E 's/generated [0-9T:Z-]+ by dmarq/generated (time) by dmarq/') >&2 \
  || fail "-o - differs from the file"

# Atomic replacement: an existing report is replaced whole, no temporary
# file is left; an unwritable target fails with exit 2 and says where.
echo old >"$work/all.html"
expect_exit 0 dq --config "$cfg" html "${oct[@]}" -o "$work/all.html"
expect_contains "replaced" "<!DOCTYPE html>" "$(head -c 100 "$work/all.html")"
expect_eq "no temporary left" "" "$(ls "$work" | grep '\.tmp\.' || true)"
expect_exit 2 dq --config "$cfg" html "${oct[@]}" -o "$work/no/such/dir/r.html"
expect_contains "names the path" "$work/no/such/dir/r.html" "$err"

# Usage errors and help.
expect_exit 2 dq html --since soon
expect_contains "bad --since" "--since" "$err"
expect_exit 0 dq html --help
expect_contains "help" "--output" "$out"
expect_exit 2 "$DMARQ" --db "$work/missing.sqlite" html -o "$work/x.html"
echo "ok"
