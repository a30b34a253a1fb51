# shellcheck shell=bash
# Helpers for the real-server DNS tests: a rootless NSD (Debian's nsd 4.x)
# serving test zones on 127.0.0.1, one free high port, and a "black hole"
# resolver that reads queries and never answers. Nothing here talks to
# anything but 127.0.0.1.
#
# Source it after tests/cli/lib.sh (it sources that itself if needed) in a
# script that runs with `set -euo pipefail`:
#   source "$(dirname "$0")/../cli/lib.sh"
#   source "$(dirname "$0")/lib.sh"
#   cli_setup "$@"                       # makes $work, trap cli_cleanup EXIT
#   dns_start "$DNS_ZONES/spf.test.zone" # exports DNS_PORT, DNS_SERVER ...
# Sourcing this file adds dns_cleanup to CLEANUP_HOOKS, which cli_cleanup
# runs (before it removes $work): it stops NSD and the black hole and removes
# NSD's directory, also when the script fails midway. If the script dies
# without running its trap (SIGKILL), a detached watchdog stops NSD and
# removes its directory within about a second, and blackhole.py exits by
# itself within a second of the script's death.
#
# How NSD runs: `nsd -d` (no daemon fork) in a session of its own, with a
# config generated into a private directory under /tmp (not $work: that is
# root's 0700 directory when the tests run as root, and NSD then runs as
# nobody). As root, NSD is started as nobody:nogroup through setpriv, with
# username "" so it never changes identity itself; otherwise it runs as the
# invoking user. No chroot, database "" (zones read straight from their
# files), zonefiles-write 0 (NSD never writes a zone file), rate limiting
# off (rrl-ratelimit 0: the benchmark sends 20,000 queries from one
# address), one server process, IPv4 only, 127.0.0.1 only. Remote control
# is on, over a unix socket in the private directory (no TLS keys, no TCP
# port): dns_queries reads the query counter with `nsd-control
# stats_noreset`.
#
# Functions (see each one below):
#   dns_start ZONE...        validate (nsd-checkzone) and serve the zones;
#                            ZONE is FILE or FILE:ORIGIN (a running instance
#                            is stopped first)
#   dns_stop                 stop NSD (SIGTERM, SIGKILL after 10 s)
#   dns_queries              queries NSD has received since it started
#   dns_ask NAME TYPE        ask NSD (tests/dns/dnsq.py), one line of text
#   dns_expect NAME TYPE RCODE [RDATA]  dns_ask and compare (fails the test)
#   blackhole_start          start tests/dns/blackhole.py
#   blackhole_packets        queries (UDP datagrams + TCP queries) received
#   blackhole_queries        "udp NAME TYPE" lines, one per query received
#   blackhole_stop           stop it
#   dns_seed_zone            path of the seed-case zone (returns 1 if absent)
#   dns_skip MESSAGE         "SKIP: MESSAGE", exit 77 (a CTest skip)
#   dqd ARGS...              dmarq --db $db ARGS, refused unless ARGS have
#                            --offline or --resolver 127.0.0.1:PORT
#   dns_make_example_zone DIR  DIR/example.test.zone with a fresh 2048-bit
#                            DKIM key (from tests/dns/zones/example.test.zone.in)
#   dns_cleanup              everything above, stopped and removed
# Variables: DNS_LIB_DIR, DNS_ZONES (tests/dns/zones), DNS_REPO (the
# checkout), DNS_PORT, DNS_SERVER ("127.0.0.1:$DNS_PORT"), DNS_DIR,
# DNS_CONF, DNS_LOG, DNS_PID (dns_start); BLACKHOLE_PORT, BLACKHOLE_SERVER,
# BLACKHOLE_LOG, BLACKHOLE_PID (blackhole_start).

[[ -n "${_DNS_LIB_LOADED:-}" ]] && return 0
_DNS_LIB_LOADED=1

if [[ "$(type -t cli_cleanup)" != function ]]; then
  # shellcheck source=../cli/lib.sh
  source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"
fi
DNS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../support/daemon.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/daemon.sh"
DNS_ZONES=$DNS_LIB_DIR/zones
DNS_REPO=$(cd "$DNS_LIB_DIR/../.." && pwd)
CLEANUP_HOOKS+=(dns_cleanup)
# The script's own stderr, for messages that must not vanish into a
# redirection (dqd under `run`).
exec 9>&2

# --------------------------------------------------------------------------
# NSD

_NS_DIR=""       # private directory of the current instance
_NS_PG=""        # nsd's pid = its process group (setsid)
_NS_WATCHDOG=""  # pid (= process group) of the detached watchdog
_NS_PORT=""


# _ns_free_port: a port free for both UDP and TCP on 127.0.0.1.
_ns_free_port() {
  python3 - <<'EOF'
import socket
for _ in range(100):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        try:
            with socket.socket() as t:
                t.bind(("127.0.0.1", port))
        except OSError:
            continue
    print(port)
    break
else:
    raise SystemExit("no free port")
EOF
}

# _ns_wait_gone SECS: until no process of the instance is left.
_ns_wait_gone() {
  local deadline=$((SECONDS + $1))
  while [[ -n "$_NS_PG" ]] && process_group_alive "$_NS_PG"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

# dns_stop: SIGTERM to NSD (it stops its server and xfrd processes itself),
# waits until all of them are gone, SIGKILL to the group after 10 s. Keeps
# DNS_DIR (the log stays readable) until the next dns_start or the cleanup.
dns_stop() {
  [[ -n "$_NS_PG" ]] || return 0
  kill -TERM "$_NS_PG" 2>/dev/null || true
  if ! _ns_wait_gone 10; then
    echo "dns_stop: NSD did not stop within 10 s; killing it" >&2
    kill -KILL -- "-$_NS_PG" 2>/dev/null || true
    _ns_wait_gone 5 || echo "dns_stop: processes of group $_NS_PG still alive" >&2
  fi
  wait "$_NS_PG" 2>/dev/null || true
  _NS_PG=""
}

# _ns_remove: stops the instance and its watchdog, removes its directory.
_ns_remove() {
  if [[ -z "$_NS_PG" && -n "$_NS_DIR" && -s "$_NS_DIR/nsd.pid" ]]; then
    _NS_PG=$(cat "$_NS_DIR/nsd.pid" 2>/dev/null || true)  # interrupted start
  fi
  dns_stop
  if [[ -n "$_NS_WATCHDOG" ]]; then
    kill -KILL -- "-$_NS_WATCHDOG" 2>/dev/null || true
    _NS_WATCHDOG=""
  fi
  if [[ -n "$_NS_DIR" ]]; then
    rm -rf "$_NS_DIR"
    _NS_DIR=""
  fi
}

# _ns_zone_origin SPEC: the ORIGIN of FILE:ORIGIN, else FILE's name without
# its ".zone" ending (tests/dns/zones/spf.test.zone serves spf.test).
_ns_zone_origin() {
  local spec=$1 file origin
  if [[ "$spec" == *.zone:* ]]; then
    origin=${spec##*.zone:}
  else
    file=${spec##*/}
    origin=${file%.zone}
  fi
  echo "${origin%.}"
}

# _ns_zone_file SPEC: the FILE of FILE[:ORIGIN].
_ns_zone_file() {
  local spec=$1
  if [[ "$spec" == *.zone:* ]]; then echo "${spec%:*}"; else echo "$spec"; fi
}

# _ns_wait_ready ORIGIN...: until NSD answers the SOA of every ORIGIN
# authoritatively (10 s at most; gives up at once when NSD has exited);
# returns 1 when it never did. One python3 process for the whole wait.
_ns_wait_ready() {
  python3 - "$DNS_LIB_DIR" "$_NS_PORT" "$_NS_PG" "$@" <<'PY'
import os, sys, time
sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, sys.argv[1])
import dnsq
port, pid, origins = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
deadline = time.monotonic() + 10
while origins and time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        break
    rcode, rdatas = dnsq.ask(port, origins[0], dnsq.TYPES["SOA"], timeout=0.2)
    if rcode == "NOERROR aa" and rdatas:
        origins.pop(0)
    else:
        time.sleep(0.05)
if origins:
    sys.exit(f"no authoritative SOA for {origins[0]}")
PY
}

# dns_start ZONE...: serves each ZONE (FILE, or FILE:ORIGIN when the origin
# is not FILE's name less ".zone") from a fresh NSD on 127.0.0.1, a free
# high port. Every zone is first checked with nsd-checkzone, whose errors
# fail the test as they are. A zone file the NSD user can read is served
# in place, byte for byte as it is in the checkout (or in ../shared); one it
# cannot (under $work, root's 0700 directory) is copied into NSD's directory
# and compared with cmp. Waits until NSD answers every zone's SOA
# authoritatively (10 s, else prints its log and fails); retries on another
# port when the chosen one was taken meanwhile. Exports:
#   DNS_PORT     the port (UDP and TCP)
#   DNS_SERVER   "127.0.0.1:$DNS_PORT", for dmarq --resolver
#   DNS_DIR      NSD's directory (config, log, pid file, control socket)
#   DNS_CONF     its nsd.conf
#   DNS_LOG      its log (zone loading, errors; NSD does not log queries)
#   DNS_PID      nsd's pid (also its process group)
dns_start() {
  (($# >= 1)) || fail "usage: dns_start ZONEFILE[:ORIGIN]..."
  local spec file origin out dir n rc attempt
  local -a origins=() files=()
  for spec in "$@"; do
    file=$(_ns_zone_file "$spec")
    origin=$(_ns_zone_origin "$spec")
    [[ -f "$file" ]] || fail "dns_start: no zone file $file"
    out=$(nsd-checkzone "$origin" "$file" 2>&1) ||
      fail "dns_start: nsd-checkzone rejects zone $origin in $file:"$'\n'"$out"
    origins+=("$origin")
    files+=("$(cd "$(dirname "$file")" && pwd)/$(basename "$file")")
  done
  _ns_remove
  daemon_identity

  dir=$(mktemp -d "${DNS_TMPDIR:-/tmp}/dmarq-nsd.XXXXXX")
  _NS_DIR=$dir
  mkdir -p "$dir/zones" "$dir/xfr"
  for n in "${!files[@]}"; do
    if ! "${DAEMON_AS[@]}" test -r "${files[n]}"; then
      cp "${files[n]}" "$dir/zones/$n-${origins[n]}.zone"
      cmp -s "${files[n]}" "$dir/zones/$n-${origins[n]}.zone" ||
        fail "dns_start: copy of ${files[n]} differs"
      files[n]=$dir/zones/$n-${origins[n]}.zone
    fi
  done
  chmod 755 "$dir"
  if [[ $(id -u) == 0 ]]; then chown -R "$DAEMON_USER:$DAEMON_GROUP" "$dir"; fi

  for attempt in 1 2 3 4 5; do
    _NS_PORT=$(_ns_free_port) || fail "dns_start: cannot find a free port"
    {
      cat <<EOF
# Generated by tests/dns/lib.sh for one test; removed with it.
server:
  ip-address: 127.0.0.1
  port: $_NS_PORT
  do-ip4: yes
  do-ip6: no
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "$dir"
  pidfile: "$dir/nsd.pid"
  database: ""
  zonelistfile: "$dir/zone.list"
  xfrdfile: "$dir/xfrd.state"
  xfrdir: "$dir/xfr"
  zonefiles-write: 0
  logfile: "$dir/nsd.log"
  log-time-ascii: yes
  verbosity: 1
  hide-version: yes
  hide-identity: yes
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0

remote-control:
  control-enable: yes
  control-interface: "$dir/nsd.ctl"
EOF
      for n in "${!files[@]}"; do
        printf '\nzone:\n  name: "%s"\n  zonefile: "%s"\n' "${origins[n]}" "${files[n]}"
      done
    } >"$dir/nsd.conf"
    : >"$dir/nsd.log"
    if [[ $(id -u) == 0 ]]; then chown "$DAEMON_USER:$DAEMON_GROUP" "$dir/nsd.conf" "$dir/nsd.log"; fi
    out=$(nsd-checkconf "$dir/nsd.conf" 2>&1) || fail "dns_start: nsd-checkconf: $out"

    # Its own session (process group = its pid) so that dns_stop and the
    # watchdog reach all its processes; stdout/stderr to a file, never a
    # pipe (a command substitution would wait for it forever).
    setsid "${DAEMON_AS[@]}" nsd -d -c "$dir/nsd.conf" </dev/null >"$dir/start.out" 2>&1 &
    _NS_PG=$!
    export DNS_PORT=$_NS_PORT DNS_SERVER="127.0.0.1:$_NS_PORT" DNS_DIR=$dir \
      DNS_CONF=$dir/nsd.conf DNS_LOG=$dir/nsd.log DNS_PID=$_NS_PG
    if out=$(_ns_wait_ready "${origins[@]}" 2>&1); then
      rc=0
      break
    fi
    rc=1
    out="$out"$'\n'"$(cat "$dir/start.out" "$dir/nsd.log" 2>/dev/null)"
    dns_stop
    [[ "$out" == *"Address already in use"* ]] || break
    echo "dns_start: port $_NS_PORT taken, retrying ($attempt)" >&2
  done
  [[ $rc == 0 ]] || fail "dns_start: NSD does not answer on port $_NS_PORT:"$'\n'"$out"

  # Watchdog, detached from this script's process tree: when the script is
  # gone without having cleaned up, it stops NSD and removes its directory.
  # shellcheck disable=SC2016 # expanded by the watchdog's bash
  setsid -f bash -c '
    echo $$ >"$2/watchdog.pid"
    while kill -0 "$1" 2>/dev/null && [[ -d $2 ]]; do sleep 1; done
    [[ -d $2 ]] || exit 0
    kill -TERM "$3" 2>/dev/null; sleep 1; kill -KILL -- "-$3" 2>/dev/null
    rm -rf "$2"' dmarq-nsd-watchdog "$$" "$dir" "$_NS_PG" </dev/null >/dev/null 2>&1
  for _ in $(seq 100); do
    [[ -s "$dir/watchdog.pid" ]] && break
    sleep 0.01
  done
  _NS_WATCHDOG=$(cat "$dir/watchdog.pid" 2>/dev/null || true)

}

# dns_queries: the number of queries NSD has received since it started (UDP
# and TCP, answered or refused), from `nsd-control stats_noreset` over the
# control socket; read until two readings 0.1 s apart agree (2 s at most),
# so that a datagram still in flight when the client exited is counted. A
# test proves "no query was sent" by this number not changing.
dns_queries() {
  [[ -n "$_NS_PG" && -n "$_NS_DIR" ]] || fail "dns_queries: no NSD running"
  local a b="" tries=0
  a=$(_ns_query_count)
  while [[ "$a" != "$b" ]] && ((tries++ < 20)); do
    sleep 0.1
    b=$a
    a=$(_ns_query_count)
  done
  echo "$a"
}

_ns_query_count() {
  local out n
  out=$("${DAEMON_AS[@]}" nsd-control -c "$_NS_DIR/nsd.conf" stats_noreset 2>&1) ||
    fail "dns_queries: nsd-control failed: $out"
  n=$(sed -n 's/^num\.queries=\([0-9]*\)$/\1/p' <<<"$out")
  [[ "$n" =~ ^[0-9]+$ ]] || fail "dns_queries: no num.queries in: $out"
  echo "$n"
}

# dns_ask NAME TYPE: asks the running NSD over UDP; prints
# "NAME TYPE RCODE[ aa] | RDATA ; ..." (see tests/dns/dnsq.py).
dns_ask() {
  [[ -n "${DNS_PORT:-}" ]] || fail "dns_ask: no NSD started"
  python3 "$DNS_LIB_DIR/dnsq.py" "$DNS_PORT" "$1" "$2"
}

# dns_expect NAME TYPE RCODE [RDATA]: fails the test unless NSD answers
# NAME/TYPE authoritatively with RCODE and, when given, exactly RDATA
# ("rdata ; rdata" in NSD's order). Proves the zones say what a test
# relies on before dmarq is asked.
dns_expect() {
  local got want="$1 $2 $3 aa | ${4:-}"
  got=$(dns_ask "$1" "$2") || fail "dns_expect: no answer for $1 $2"
  if (($# >= 4)); then
    [[ "$got" == "$want" ]] || fail "zone data: expected [$want], got [$got]"
  else
    [[ "$got" == "$1 $2 $3 aa | "* ]] || fail "zone data: expected [$1 $2 $3 aa], got [$got]"
  fi
}

# --------------------------------------------------------------------------
# Black hole

_BH_PID=""
_BH_N=0

# blackhole_start: starts tests/dns/blackhole.py on 127.0.0.1, a free port
# for UDP and TCP, which reads every query and answers none. Exports
# BLACKHOLE_PORT, BLACKHOLE_SERVER ("127.0.0.1:PORT"), BLACKHOLE_LOG (one
# line per query received), BLACKHOLE_PID. A running one is stopped first.
blackhole_start() {
  [[ -n "${work:-}" && -d "$work" ]] || fail "blackhole_start: no \$work directory"
  blackhole_stop
  _BH_N=$((_BH_N + 1))
  local portfile=$work/blackhole.$_BH_N.port
  BLACKHOLE_LOG=$work/blackhole.$_BH_N.log
  : >"$BLACKHOLE_LOG"
  python3 "$DNS_LIB_DIR/blackhole.py" --port-file "$portfile" --log "$BLACKHOLE_LOG" \
    --parent "$$" </dev/null >"$work/blackhole.$_BH_N.out" 2>&1 &
  _BH_PID=$!
  for _ in $(seq 200); do
    [[ -s "$portfile" ]] && break
    kill -0 "$_BH_PID" 2>/dev/null || break
    sleep 0.025
  done
  [[ -s "$portfile" ]] || fail "blackhole_start: no port: $(cat "$work/blackhole.$_BH_N.out")"
  BLACKHOLE_PORT=$(cat "$portfile")
  export BLACKHOLE_PORT BLACKHOLE_SERVER="127.0.0.1:$BLACKHOLE_PORT" BLACKHOLE_LOG \
    BLACKHOLE_PID=$_BH_PID
}

# blackhole_packets: queries the black hole has received so far (UDP
# datagrams plus queries read from TCP connections).
blackhole_packets() {
  [[ -n "${BLACKHOLE_LOG:-}" ]] || fail "blackhole_packets: no black hole started"
  grep -c -E '^(udp|tcp) ' "$BLACKHOLE_LOG" || true
}

# blackhole_queries: the queries received, "udp|tcp NAME TYPE" a line.
blackhole_queries() {
  [[ -n "${BLACKHOLE_LOG:-}" ]] || fail "blackhole_queries: no black hole started"
  grep -E '^(udp|tcp) ' "$BLACKHOLE_LOG" || true
}

# blackhole_stop: stops the black hole (no-op when none runs); its log stays.
blackhole_stop() {
  [[ -n "$_BH_PID" ]] || return 0
  local cmd
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$_BH_PID/cmdline" || true)
  [[ "$cmd" != *blackhole.py* ]] || kill "$_BH_PID" 2>/dev/null || true
  wait "$_BH_PID" 2>/dev/null || true
  _BH_PID=""
}

# --------------------------------------------------------------------------
# Zones

# dns_seed_zone: prints the path of the seed case's zone file,
# ../shared/reference/seed-case/afspraakmanager.be.zone beside the checkout
# (absolute, symlinks kept), or nothing and returns 1 when it is not there.
dns_seed_zone() {
  local dir=$DNS_REPO/../shared/reference/seed-case
  [[ -f "$dir/afspraakmanager.be.zone" ]] || return 1
  echo "$(cd "$dir" && pwd)/afspraakmanager.be.zone"
}

# dns_skip MESSAGE: says "SKIP: MESSAGE" and exits 77, which CTest reports
# as a skip (SKIP_RETURN_CODE 77 in tests/CMakeLists.txt).
dns_skip() {
  echo "SKIP: $*" >&2
  exit 77
}

# dqd ARGS...: dmarq on the test database for a DNS-using subcommand. Fails
# the test unless ARGS say --offline or name a --resolver, and every
# --resolver is on 127.0.0.1: no test may fall back on /etc/resolv.conf or
# ask anything but the servers started here.
dqd() {
  local -a args=("$@")
  local i chosen=0 bad=""
  for i in "${!args[@]}"; do
    case ${args[i]} in
      --offline) chosen=1 ;;
      --resolver)
        [[ "${args[i + 1]:-}" =~ ^127\.0\.0\.1:[0-9]+$ ]] ||
          bad="--resolver ${args[i + 1]:-} is not 127.0.0.1:PORT"
        chosen=1
        ;;
      --resolver=*) bad="write --resolver ADDRESS as two arguments" ;;
    esac
  done
  ((chosen)) || bad="neither --resolver nor --offline"
  if [[ -n "$bad" ]]; then
    echo "FAIL: dqd: $bad in: $*" >&9
    exit 1
  fi
  "$DMARQ" --db "$db" "$@"
}

# dns_start_enrich_zones DIR: starts NSD with what the sources of
# tests/data/dns/enrich-report.xml resolve in: example.test (made in DIR),
# spf.test, google.com and their reverse zones.
dns_start_enrich_zones() {
  dns_make_example_zone "$1"
  dns_start "$1/example.test.zone" "$DNS_ZONES/spf.test.zone" \
    "$DNS_ZONES/google.com.zone" "$DNS_ZONES/128.85.209.in-addr.arpa.zone" \
    "$DNS_ZONES/2.0.192.in-addr.arpa.zone" "$DNS_ZONES/8.b.d.0.1.0.0.2.ip6.arpa.zone"
}

# dns_make_example_zone DIR: writes DIR/example.test.zone from
# tests/dns/zones/example.test.zone.in with a fresh 2048-bit RSA key as the
# DKIM key of selector "mail" (the public key as base64 DER, split into
# 200-character strings), and DIR/example.test.dkim.key (the private key).
dns_make_example_zone() {
  [[ $# -eq 1 ]] || fail "usage: dns_make_example_zone DIR"
  local dir=$1 pub strings out
  mkdir -p "$dir"
  out=$(openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$dir/example.test.dkim.key" 2>&1) || fail "dns_make_example_zone: openssl: $out"
  pub=$(openssl pkey -in "$dir/example.test.dkim.key" -pubout -outform DER 2>/dev/null |
    base64 -w0) || fail "dns_make_example_zone: openssl pkey failed"
  [[ ${#pub} -ge 390 ]] || fail "dns_make_example_zone: short public key (${#pub} chars)"
  strings=$(printf '%s' "$pub" | fold -w 200 | sed 's/.*/"&"/' | tr '\n' ' ')
  sed "s|@DKIM_P@|${strings% }|" "$DNS_ZONES/example.test.zone.in" >"$dir/example.test.zone"
  if grep -q '@DKIM_P@' "$dir/example.test.zone"; then
    fail "dns_make_example_zone: placeholder left in $dir/example.test.zone"
  fi
}

# --------------------------------------------------------------------------

# dns_cleanup: stops NSD, its watchdog and the black hole, removes NSD's
# directory. Idempotent; never fails. tests/cli/lib.sh's cli_cleanup runs it
# (CLEANUP_HOOKS).
dns_cleanup() {
  blackhole_stop || true
  _ns_remove || true
}
