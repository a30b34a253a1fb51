# Shared set-up of the dmarq IMAP tests: sourced after tests/cli/lib.sh and
# tests/imap/lib.sh, once cli_setup has run.
#   make_reports DIR N [PREFIX]   N distinct report e-mails (PREFIX-1.eml ...)
#   imap_config NAME KEY=VALUE... writes $work/cfg.toml with account NAME
#   ingest_imap NAME [ARGS...]    dmarq --config $work/cfg.toml ingest --imap NAME ...
#   reports_in_db                 distinct reports stored

# make_reports DIR N [PREFIX]: N report e-mails, each carrying a different
# report (its report_id is PREFIX-i), written by us for these tests.
make_reports() {
  local dir=$1 n=$2 prefix=${3:-r}
  mkdir -p "$dir"
  python3 - "$dir" "$n" "$prefix" <<'PY'
import sys
d, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(1, n + 1):
    rid = f"{prefix}-{i}"
    begin = 1793404800 + (i % 30) * 86400
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<feedback>
  <report_metadata>
    <org_name>IMAP Test Receiver</org_name>
    <email>dmarc@receiver.example</email>
    <report_id>{rid}</report_id>
    <date_range><begin>{begin}</begin><end>{begin + 86399}</end></date_range>
  </report_metadata>
  <policy_published><domain>example.com</domain><p>none</p></policy_published>
  <record>
    <row><source_ip>192.0.2.{i % 250 + 1}</source_ip><count>{i}</count>
      <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>
    <identifiers><header_from>example.com</header_from></identifiers>
    <auth_results><dkim><domain>example.com</domain><result>pass</result></dkim>
      <spf><domain>example.com</domain><result>pass</result></spf></auth_results>
  </record>
</feedback>
"""
    mail = (f"From: dmarc@receiver.example\r\nTo: reports@example.com\r\n"
            f"Subject: Report Domain: example.com Report-ID: {rid}\r\n"
            f"Message-ID: <{rid}@receiver.example>\r\nDate: Sat, 31 Oct 2026 00:00:00 +0000\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/xml; charset=utf-8\r\n\r\n")
    mail += xml.replace("\n", "\r\n")
    with open(f"{d}/{prefix}-{i}.eml", "w", newline="") as f:
        f.write(mail)
PY
}

# imap_config NAME KEY=VALUE...: a config with one account; values are TOML
# (strings quoted by the caller). The password file is private.
imap_config() {
  local name=$1
  shift
  printf 'secret\n' >"$work/imap-password"
  chmod 600 "$work/imap-password"
  {
    echo "[imap.$name]"
    echo "user = \"tester\""
    echo "password_file = \"$work/imap-password\""
    local kv
    for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
  } >"$work/cfg.toml"
}

ingest_imap() {
  local name=$1
  shift
  "$DMARQ" --db "$db" --config "$work/cfg.toml" ingest --imap "$name" "$@"
}

reports_in_db() { sqlite3 "$db" "SELECT count(*) FROM report" 2>/dev/null || echo 0; }
