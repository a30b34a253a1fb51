#!/usr/bin/env bash
# The analyzer's commands in every format, compared with golden files, on a
# fixed database: the seed case (samples/reports) and example.com
# (tests/data/analyze). DMARQ_UPDATE_GOLDEN=1 rewrites the golden files
# (review the diff before committing).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cli_setup "$@"
analyze=$2/analyze
samples=$(cd "$2/../../samples" && pwd)
golden_dir=$2/golden/cli
cfg=$analyze/dmarq.toml

expect_exit 0 dq ingest "$samples"/reports/*afspraakmanager.be*
expect_exit 0 dq ingest "$analyze/example.com-two-days.xml" "$analyze/example.com-one-day.xml"

# golden NAME EXIT ARGS...: dmarq ARGS must exit with EXIT and print exactly
# the golden file NAME.
golden() {
  local name=$1 want=$2
  shift 2
  expect_exit "$want" dq --config "$cfg" "$@"
  if [[ "${DMARQ_UPDATE_GOLDEN:-}" == 1 ]]; then
    cat "$work/.out" >"$golden_dir/$name"
  fi
  [[ -f "$golden_dir/$name" ]] || fail "no golden file $golden_dir/$name (run with DMARQ_UPDATE_GOLDEN=1)"
  diff -u "$golden_dir/$name" "$work/.out" >&2 || fail "dmarq $* differs from golden $name"
  expect_eq "stderr of dmarq $*" "" "$err"
}

seed=(--domain afspraakmanager.be --since 2026-10-01 --until 2026-10-31)
oct=(--domain example.com --since 2026-10-01 --until 2026-10-31)

golden seed-sources.txt 0 sources "${seed[@]}"
golden seed-sources.csv 0 sources "${seed[@]}" --format csv
golden seed-sources.json 0 sources "${seed[@]}" --format json
golden seed-readiness.txt 0 readiness --offline "${seed[@]}"
golden seed-readiness.json 0 readiness --offline "${seed[@]}" --format json
golden seed-readiness.txt 3 readiness --offline "${seed[@]}" --fail-if-not-ready

golden example-sources-ip.txt 0 sources "${oct[@]}"
golden example-sources-ip.csv 0 sources "${oct[@]}" --format csv
golden example-sources-ip.json 0 sources "${oct[@]}" --format json
golden example-sources-sender.txt 0 sources "${oct[@]}" --by sender
golden example-sources-reporter.txt 0 sources "${oct[@]}" --by reporter
golden example-sources-unknown.txt 0 sources "${oct[@]}" --unknown
golden example-sources-sender.csv 0 sources "${oct[@]}" --by sender --format csv
golden example-sources-reporter.json 0 sources "${oct[@]}" --by reporter --format json
golden example-readiness.txt 0 readiness --offline "${oct[@]}"
golden example-readiness.json 0 readiness --offline "${oct[@]}" --format json
golden example-readiness.txt 3 readiness --offline "${oct[@]}" --fail-if-not-ready
golden example-trend.txt 0 trend --domain example.com --days 5 --until 2026-10-12
golden example-trend.csv 0 trend --domain example.com --days 5 --until 2026-10-12 --format csv
golden example-trend.json 0 trend --domain example.com --days 5 --until 2026-10-12 --format json
golden senders.txt 0 senders --since 2026-10-01 --until 2026-10-31
golden senders.csv 0 senders --since 2026-10-01 --until 2026-10-31 --format csv
golden senders.json 0 senders --since 2026-10-01 --until 2026-10-31 --format json
golden export-sources.csv 0 export sources "${oct[@]}"
golden export-sources.json 0 export sources "${oct[@]}" --format json

# The two-day report's records split over its two days by largest remainder,
# ties to the earlier day: 101 -> 51+50, 40 -> 20+20, 9 -> 5+4, 3 -> 2+1,
# 4 -> 2+2, 2 -> 1+1; day two adds Receiver Two's 26. Nothing is lost: 185.
run dq --config "$cfg" trend --domain example.com --days 2 --until 2026-10-11 --format csv
expect_contains "day 1 of the split" "2026-10-10,81," "$out"
expect_contains "day 2 of the split" "2026-10-11,104," "$out"

# By ip, one row per (address, header_from): 192.0.2.10 sends for two.
run dq --config "$cfg" sources "${oct[@]}" --format csv
expect_eq "rows for 192.0.2.10" 2 "$(grep -c '^192\.0\.2\.10,' <<<"$out")"
expect_contains "the subdomain's row" "192.0.2.10,known,office,ip 192.0.2.0/24,5,100.0,100.0,100.0" "$out"

# Output does not depend on TZ.
TZ=Pacific/Kiritimati golden example-trend.txt 0 trend --domain example.com --days 5 --until 2026-10-12
TZ=America/Adak golden seed-readiness.json 0 readiness --offline "${seed[@]}" --format json

# A period without data, a bad date, a missing or broken config.
golden empty-sources.txt 0 sources --domain example.com --since 2025-01-01 --until 2025-01-31
expect_exit 2 dq --config "$cfg" sources --domain example.com --since yesterday
expect_contains "bad --since" "--since" "$err"
expect_exit 2 dq --config "$work/missing.toml" sources --domain example.com
expect_contains "missing config" "missing.toml" "$err"
printf '[senders.x]\nips = ["300.1.1.1"]\n' >"$work/bad.toml"
expect_exit 2 dq --config "$work/bad.toml" sources --domain example.com
expect_contains "bad config names the key" "senders.x.ips" "$err"
# No config at all (the default path does not exist): everything is unknown
# or authenticated, and the commands still answer.
expect_exit 0 dq sources "${oct[@]}" --format csv
expect_not_contains "no config: nothing known" ",known," "$out"
