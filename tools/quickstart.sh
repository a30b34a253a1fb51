#!/usr/bin/env bash
# Quick start: install what dmarq needs (Debian 12), build it, ingest the
# bundled samples/ into ./dmarq-samples.sqlite and list the reports.
# Safe to run again: the rerun ingests nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDMARQ_BUILD_TESTS=OFF >/dev/null
cmake --build build --target dmarq

db="$PWD/dmarq-samples.sqlite"
echo "== dmarq --db $db ingest samples/"
status=0
build/tools/dmarq/dmarq --db "$db" ingest samples/ || status=$?
# samples/ holds one file that is not a DMARC report on purpose (a TLS-RPT
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
