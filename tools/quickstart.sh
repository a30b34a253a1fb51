#!/usr/bin/env bash
# Quick start: install what dmarq needs (Debian 12), build it, ingest the
# bundled samples/reports into ./dmarq-samples.sqlite, list the reports, and
# ask the analyzer about the seed case (afspraakmanager.be) with the known
# senders of samples/dmarq.toml.
# Safe to run again: the rerun ingests nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDMARQ_BUILD_TESTS=OFF >/dev/null
cmake --build build --target dmarq

db="$PWD/dmarq-samples.sqlite"
echo "== dmarq --db $db ingest samples/reports"
status=0
build/tools/dmarq/dmarq --db "$db" ingest samples/reports || status=$?
# samples/reports holds one file that is not a DMARC report on purpose (a TLS-RPT
# JSON report), so exit code 1 - "some inputs rejected" - is expected here.
if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
  echo "quickstart: dmarq ingest failed with exit code $status" >&2
  exit "$status"
fi
echo
echo "== dmarq --db $db reports"
build/tools/dmarq/dmarq --db "$db" reports
echo
echo "== dmarq --db $db rejects"
build/tools/dmarq/dmarq --db "$db" rejects
echo
echo "== dmarq --db $db --config samples/dmarq.toml sources --domain afspraakmanager.be --since 2026-10-01 --until 2026-10-31"
build/tools/dmarq/dmarq --db "$db" --config samples/dmarq.toml sources --domain afspraakmanager.be \
  --since 2026-10-01 --until 2026-10-31
echo
# --offline: the samples are a frozen case; without it readiness would also
# evaluate the domain's live SPF record.
echo "== dmarq --db $db --config samples/dmarq.toml readiness --offline --domain afspraakmanager.be --since 2026-10-01 --until 2026-10-31"
build/tools/dmarq/dmarq --db "$db" --config samples/dmarq.toml readiness --offline --domain afspraakmanager.be \
  --since 2026-10-01 --until 2026-10-31
echo
# The same findings as one self-contained page (open it in a browser).
echo "== dmarq --db $db --config samples/dmarq.toml html --offline --since 2026-10-01 --until 2026-10-31 -o dmarq-samples.html"
build/tools/dmarq/dmarq --db "$db" --config samples/dmarq.toml html --offline --since 2026-10-01 --until 2026-10-31 \
  -o "$PWD/dmarq-samples.html"
echo "wrote $PWD/dmarq-samples.html"
