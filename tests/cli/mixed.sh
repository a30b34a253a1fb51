#!/usr/bin/env bash
# A mixed reports mailbox (aggregate reports, an ARF complaint, a failure
# report, a JMRP complaint, bounces, an auto-reply, spam) is sorted in one
# run: every message gets exactly one kind, nothing is lost or counted twice,
# and the complaint, bounce and suppression views and exports match their
# golden files.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cli_setup "$@"
mixed=$2/mixed
samples=$(cd "$2/../../samples" && pwd)
golden_dir=$2/golden/cli

md=$work/Maildir
mkdir -p "$md/new" "$md/cur" "$md/tmp"
cp "$samples/reports/google.com-example.com.eml" "$md/new/01-aggregate-google"
cp "$samples/reports/outlook.com-example.com.eml" "$md/new/02-aggregate-outlook"
n=10
for f in arf-abuse failure jmrp bounce autoreply spam; do
  cp "$mixed/$f.eml" "$md/new/$n-$f"
  n=$((n + 1))
done
cp "$mixed/arf-abuse.eml" "$md/new/20-arf-again"  # the same bytes: a duplicate
# Soft bounces for one recipient on three days over nine days: suppressed.
for day in 01 05 10; do
  sed -e "s/Arrival-Date: Fri, 23 Oct 2026 05:59:00 +0000/Arrival-Date: $day Oct 2026 05:59:00 +0000/" \
      -e "s/<dsn-1@/<dsn-soft-$day@/" -e 's/gone@isp.example/soft@isp.example/g' -e 's/Gone@isp.example/soft@isp.example/' \
      -e 's/Status: 5.1.1/Status: 4.2.2/' -e 's/550 5.1.1/452 4.2.2/' "$mixed/bounce.eml" >"$md/new/3$day-soft"
done
grep -q "Arrival-Date: 05 Oct 2026" "$md/new/305-soft" || fail "test setup: sed did not change the date"

expect_exit 1 dq ingest --maildir "$md"  # 1: the spam was set aside
expect_contains "spam set aside with its reason" "not a report" "$err"
expect_eq "one line on stderr (the spam)" 1 "$(grep -c . <<<"$err")"
kinds=$(sql "SELECT kind || '=' || count(*) FROM message GROUP BY kind ORDER BY kind" | tr '\n' ' ')
expect_eq "every message sorted" "aggregate=2 arf=1 auto_reply=1 bounce=4 failure=1 jmrp=1 not_report=1 " "$kinds"
expect_eq "nothing left in new" 0 "$(count_files "$md/new")"
expect_eq "processed" 11 "$(count_files "$md/.Processed")"
expect_eq "invalid" 1 "$(count_files "$md/.Invalid")"
expect_eq "aggregate reports" 2 "$(sql 'SELECT count(*) FROM report')"
expect_eq "feedback rows (the duplicate not again)" 3 "$(sql 'SELECT count(*) FROM feedback')"
expect_eq "bounced recipients" 8 "$(sql 'SELECT count(*) FROM bounce')"

# The same mailbox again: nothing new, nothing counted twice.
cp "$md/.Processed/cur/"* "$md/new/" 2>/dev/null || cp "$md/.Processed/new/"* "$md/new/"
expect_exit 0 dq ingest --maildir "$md"
expect_eq "feedback after a rerun" 3 "$(sql 'SELECT count(*) FROM feedback')"
expect_eq "bounces after a rerun" 8 "$(sql 'SELECT count(*) FROM bounce')"

golden() {
  local name=$1
  shift
  expect_exit 0 dq "$@"
  # Origins name the temporary Maildir: compare them without it.
  sed -i "s|$work|WORK|g" "$work/.out"
  if [[ "${DMARQ_UPDATE_GOLDEN:-}" == 1 ]]; then cat "$work/.out" >"$golden_dir/$name"; fi
  [[ -f "$golden_dir/$name" ]] || fail "no golden file $golden_dir/$name (run with DMARQ_UPDATE_GOLDEN=1)"
  diff -u "$golden_dir/$name" "$work/.out" >&2 || fail "dmarq $* differs from golden $name"
}
golden complaints.txt complaints
golden complaints-domain.csv complaints --by domain --format csv
golden complaints-type.json complaints --by type --format json
golden complaints-day.txt complaints --by day
golden bounces.txt bounces
golden bounces-domain.csv bounces --by recipient-domain --format csv
golden bounces-status.json bounces --by status --format json
golden suppressions.csv suppressions
golden suppressions.json suppressions --format json
golden suppressions-strict.csv suppressions --soft-days 4
golden export-feedback.csv export feedback
golden export-feedback.json export feedback --format json
golden export-bounces.csv export bounces
golden export-bounces.json export bounces --format json

# The feedback export has parsedmarc's failure columns, in order.
header='feedback_type,user_agent,version,original_envelope_id,original_mail_from,original_rcpt_to,arrival_date,arrival_date_utc,subject,message_id,authentication_results,dkim_domain,source_ip_address,source_country,source_reverse_dns,source_base_domain,source_name,source_type,source_asn,source_as_name,source_as_domain,delivery_result,auth_failure,reported_domain,authentication_mechanisms,sample_headers_only'
expect_eq "feedback CSV header" "$header"$'\r' "$(head -n 1 "$golden_dir/export-feedback.csv")"
