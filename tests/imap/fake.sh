#!/usr/bin/env bash
# What Dovecot will not do, from the scripted fake server: a huge literal, a
# flood of untagged responses, a server sending one byte per second, and a
# connection broken in the middle of a FETCH. Each ends in a clear error
# within the configured timeout, with bounded memory.
set -euo pipefail
here=$(dirname "$0")
source "$here/../cli/lib.sh"
source "$here/lib.sh"
source "$here/common.sh"
cli_setup "$@"
imap_certs "$work/certs"

# run_bounded MAX_SECONDS: runs the ingest under GNU time; sets $rc, $err,
# $secs (wall) and $rss_mb (peak).
run_bounded() {
  local max=$1
  set +e
  /usr/bin/time -f '%e %M' -o "$work/time" "$DMARQ" --db "$db" --config "$work/cfg.toml" ingest --imap t \
    >"$work/.out" 2>"$work/.err"
  rc=$?
  set -e
  err=$(cat "$work/.err")
  read -r secs kb < <(tail -n 1 "$work/time")
  rss_mb=$((kb / 1024))
  awk -v s="$secs" -v m="$max" 'BEGIN { exit !(s <= m) }' || fail "took ${secs}s, more than ${max}s; stderr: $err"
  ((rss_mb < rss_limit)) || fail "peak RSS ${rss_mb} MB, limit ${rss_limit} MB"
}
# AddressSanitizer's shadow memory and quarantine add tens of MB to any run:
# the bound (which catches a client that buffers what the server announces)
# is wider for an instrumented binary. ldd's output is captured whole: with
# pipefail, "ldd | grep -q" can fail when grep exits on the first match and
# ldd then dies of SIGPIPE (that made CI's ASan stage see the 100 MB limit).
rss_limit=100
linked=$(ldd "$DMARQ" 2>/dev/null || true)
if [[ $linked == *libasan* ]]; then rss_limit=400; fi

for scenario in huge-literal untagged-flood slow drop-mid-fetch; do
  rm -f "$db"*
  fake_imap_start "$scenario" tls
  imap_config t "host=\"127.0.0.1\"" "port=$FAKE_IMAP_PORT" "ca_file=\"$IMAP_CA\"" "timeout_seconds=3"
  run_bounded 10
  case $scenario in
    huge-literal)
      expect_eq "$scenario: exit" 2 "$rc"
      expect_contains "$scenario: names the limit" "literal of 99999999999 bytes" "$err"
      ;;
    untagged-flood)
      # Either limit may trip first: the count of untagged responses or the
      # command's deadline. Both are clear, and memory stays flat.
      [[ $rc == 2 || $rc == 75 ]] || fail "$scenario: exit $rc; stderr: $err"
      [[ $err == *"untagged responses"* || $err == *"within 3 s"* ]] || fail "$scenario: unclear error: $err"
      ;;
    slow)
      expect_eq "$scenario: exit (temporary failure)" 75 "$rc"
      expect_contains "$scenario: names the timeout" "within 3 s" "$err"
      ;;
    drop-mid-fetch)
      expect_eq "$scenario: exit (temporary failure)" 75 "$rc"
      expect_contains "$scenario: says the server closed" "closed the connection" "$err"
      ;;
  esac
  fake_imap_stop
  echo "$scenario: exit $rc in ${secs}s, ${rss_mb} MB: $err" >&2
done
