#!/usr/bin/env bash
# Two ingests that deadlock on PostgreSQL (issue 9): two messages carry the
# same two large reports, one as A then B, the other as B then A. Started
# together, each inserts its first report's row and then waits for the
# other's; the server aborts one transaction (SQLSTATE 40P01), and that
# ingest reads its mailbox again instead of failing. Both must exit 0 with
# each report stored once. The collision depends on timing, so the pair
# runs up to five times into fresh databases and must collide at least once;
# every round must end exact.
# Usage: conflict.sh DMARQ WORK_DIR
set -euo pipefail
dmarq=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/pg/lib.sh
source "$here/lib.sh"

fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

rm -rf "$work"
mkdir -p "$work"
trap 'pg_stop "$work/pg" >/dev/null 2>&1 || true' EXIT
pg_start "$work/pg"

# Two reports of 20,000 records each, and the two e-mails carrying both.
python3 - "$work" <<'PY'
import email.message, gzip, sys
work = sys.argv[1]
def report(name, begin):
    rows = []
    for i in range(20000):
        ip = "10.%d.%d.%d" % (i >> 16, (i >> 8) & 255, i & 255)
        rows.append("<record><row><source_ip>%s</source_ip><count>%d</count><policy_evaluated>"
                    "<disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated></row>"
                    "<identifiers><header_from>conflict.example</header_from></identifiers><auth_results>"
                    "<dkim><domain>conflict.example</domain><result>pass</result></dkim>"
                    "<spf><domain>conflict.example</domain><result>fail</result></spf></auth_results></record>"
                    % (ip, 1 + i % 7))
    xml = ("<?xml version=\"1.0\"?><feedback><report_metadata><org_name>Receiver %s</org_name>"
           "<email>r@receiver.example</email><report_id>%s</report_id><date_range><begin>%d</begin>"
           "<end>%d</end></date_range></report_metadata><policy_published><domain>conflict.example</domain>"
           "<p>none</p></policy_published>%s</feedback>" % (name, name, begin, begin + 86399, "".join(rows)))
    return gzip.compress(xml.encode(), mtime=0)
reports = {"A": report("A", 1793491200), "B": report("B", 1793577600)}
for box, order in (("one", "AB"), ("two", "BA")):
    m = email.message.EmailMessage()
    m["From"] = "dmarc@receiver.example"
    m["To"] = "reports@conflict.example"
    m["Subject"] = "Report domain: conflict.example, order " + order
    m["Message-ID"] = "<%s@receiver.example>" % order
    m.set_content("Two aggregate reports.")
    for name in order:
        m.add_attachment(reports[name], maintype="application", subtype="gzip", filename=name + ".xml.gz")
    with open("%s/%s.eml" % (work, box), "wb") as f:
        f.write(bytes(m))
PY

collided=0
mkdir -p "$work/empty/new" "$work/empty/cur" "$work/empty/tmp"
for round in 1 2 3 4 5; do
  db=$(pg_create_db "race$round")
  # The schema and partitions first (an empty mailbox), so that the race
  # is between the two messages, not the two migrations.
  "$dmarq" --db "$db" ingest --no-progress --maildir "$work/empty"
  for box in one two; do
    rm -rf "$work/m-$box"
    mkdir -p "$work/m-$box/new" "$work/m-$box/cur" "$work/m-$box/tmp"
    cp "$work/$box.eml" "$work/m-$box/new/1.$box.eml"
  done
  pids=()
  for box in one two; do
    "$dmarq" -v --db "$db" ingest --no-progress --maildir "$work/m-$box" >"$work/$box.log" 2>&1 &
    pids+=($!)
  done
  codes=()
  for p in "${pids[@]}"; do
    rc=0
    wait "$p" || rc=$?
    codes+=("$rc")
  done
  [[ ${codes[*]} == "0 0" ]] || bad "round $round: exit codes ${codes[*]}: $(cat "$work/one.log" "$work/two.log")"
  if grep -q "reading the inputs again" "$work/one.log" "$work/two.log"; then
    collided=$((collided + 1))
    grep -h "reading the inputs again" "$work/one.log" "$work/two.log" | head -1 | cut -c1-160
  fi
  name=race$round
  got=$(pg_psql "$name" -Atc "SELECT count(*), sum(record_count), (SELECT count(*) FROM record) FROM report")
  [[ $got == "2|40000|40000" ]] || bad "round $round: reports|records|rows = $got, not 2|40000|40000"
  left=$(find "$work/m-one/new" "$work/m-two/new" -type f | wc -l)
  [[ $left == 0 ]] || bad "round $round: $left message(s) left unread"
  ((collided > 0)) && break
done
((collided > 0)) && ok "a deadlock between two ingests was retried (round $round) and every round ended exact" ||
  bad "no round collided in 5; the retry was never exercised"
exit $fail
