#!/usr/bin/env bash
# IMAP ingest benchmark (not a test): N report e-mails from dmarq-gen,
# ingested over IMAPS from a local rootless Dovecot (the test suite's, on
# 127.0.0.1 high ports), then the same messages from a Maildir, each RUNS
# times. Prints dmarq-bench's messages/s and peak RSS for both.
#
#   tools/bench/imap-bench.sh [BUILD_DIR] [MESSAGES] [RUNS]
#   (defaults: build-rel 2000 3; BUILD_DIR needs dmarq, dmarq-gen, dmarq-bench)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build-rel}" && pwd)
messages=${2:-2000}
runs=${3:-3}
source "$root/tests/cli/lib.sh"
source "$root/tests/imap/lib.sh"
cli_setup "$build/tools/dmarq/dmarq" "$root/tests/data"
imap_certs "$work/certs"
dovecot_start good .

"$build/tools/bench/dmarq-gen" --out "$work/corpus" --messages "$messages" --quiet
printf 'secret\n' >"$work/pw"
chmod 600 "$work/pw"
cat >"$work/cfg.toml" <<CFG
[imap.bench]
host = "localhost"
port = $IMAPS_PORT
tls = "implicit"
ca_file = "$IMAP_CA"
user = "tester"
password_file = "$work/pw"
batch_size = 100
CFG

echo "== IMAPS from Dovecot, $messages messages, $runs runs"
for run in $(seq 1 "$runs"); do
  dovecot_deliver "$work"/corpus/new/*
  "$build/tools/bench/dmarq-bench" --imap bench --config "$work/cfg.toml" 2>/dev/null | grep '^run' |
    sed "s/^run 1/imap run $run/"
  dovecot_imap 'DELETE INBOX.Processed' 'DELETE INBOX.Invalid' >/dev/null
done
echo "== Maildir, the same $messages messages, $runs runs"
"$build/tools/bench/dmarq-bench" --maildir "$work/corpus" --runs "$runs" 2>/dev/null | grep -E '^(run|summary)'
