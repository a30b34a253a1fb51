# Helpers for the real-server IMAP tests: a test CA and certificates, a
# rootless Dovecot on 127.0.0.1/127.0.0.2 high ports, and the scripted fake
# server tests/imap/fake_imap.py. Nothing here talks to anything but
# 127.0.0.0/8.
#
# Source it after tests/cli/lib.sh (it sources that itself if needed) in a
# script that runs with `set -euo pipefail`; fake_imap_start needs `$work`:
#   source "$(dirname "$0")/../cli/lib.sh"
#   source "$(dirname "$0")/../imap/lib.sh"
#   cli_setup "$@"               # makes $work, trap cli_cleanup EXIT
#   imap_certs "$work/certs"     # once per script
#   dovecot_start good .         # exports IMAPS_PORT, IMAP_PORT, DOVECOT_* ...
# Sourcing this file adds imap_cleanup to CLEANUP_HOOKS, which cli_cleanup
# runs (before it removes $work): it kills every Dovecot and fake server
# started here and removes the Dovecot directories, also when the script
# fails midway. A script with its own EXIT trap calls imap_cleanup from it.
# If the script dies without running its trap (SIGKILL), a detached watchdog
# stops its Dovecot and removes its directory within about a second, and
# fake_imap.py exits by itself after at most 60 s.
#
# Functions (see each one below):
#   imap_certs DIR                 test CA + good/wronghost/expired/untrusted
#   dovecot_start CERT_NAME SEP    start Dovecot, SEP "." or "/" (a running
#                                  instance is killed first; fresh mailbox)
#   dovecot_stop                   graceful stop (1-2 s: Dovecot's own pace)
#   dovecot_kill                   immediate stop (SIGKILL to the instance)
#   dovecot_deliver FILE...        put messages into tester's INBOX (new/)
#   dovecot_folder_count FOLDER    messages in FOLDER, or "missing"
#   dovecot_message_ids FOLDER     the Message-ID of each message in FOLDER
#   dovecot_logins                 successful logins so far
#   dovecot_auth_attempts          client connections that tried to log in
#   dovecot_imap CMD...            run IMAP commands as tester over implicit TLS
#   fake_imap_start SCENARIO [tls|starttls|plain] [ARGS...]
#   fake_imap_wait [SECS]          wait for the fake server to exit
#   fake_imap_stop                 kill it now
#   fake_imap_client_commands      the command names the client sent
#   imap_cleanup                   everything above, stopped and removed
# Variables: IMAP_USER=tester IMAP_PASSWORD=secret (the only Dovecot user),
# IMAP_CERT_DIR IMAP_CA (imap_certs), IMAPS_PORT IMAP_PORT DOVECOT_DIR
# DOVECOT_CONF DOVECOT_MAILDIR DOVECOT_LOG DOVECOT_ERRLOG DOVECOT_SEPARATOR
# DOVECOT_PID (dovecot_start), FAKE_IMAP_PORT FAKE_IMAP_PID FAKE_IMAP_LOG
# (fake_imap_start).

[[ -n "${_IMAP_LIB_LOADED:-}" ]] && return 0
_IMAP_LIB_LOADED=1

if [[ "$(type -t cli_cleanup)" != function ]]; then
  # shellcheck source=../cli/lib.sh
  source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"
fi
IMAP_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../support/daemon.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/daemon.sh"
CLEANUP_HOOKS+=(imap_cleanup)

IMAP_USER=tester
IMAP_PASSWORD=secret

# --------------------------------------------------------------------------
# Certificates

# imap_certs DIR: writes into DIR (created if needed), all EC P-256/SHA-256:
#   ca.crt ca.key                 the test CA (trust anchor for the tests)
#   good.crt good.key             SAN localhost, 127.0.0.1, 127.0.0.2; valid now
#   wronghost.crt wronghost.key   SAN wrong.example only; by the CA; valid now
#   expired.crt expired.key       SAN localhost, 127.0.0.1; by the CA;
#                                 valid 2020-01-01 .. 2020-01-02 only
#   untrusted.crt untrusted.key   self-signed (not by the CA); SAN localhost,
#                                 127.0.0.1; valid now
# "Valid now" is now-1h .. now+1d. Exports IMAP_CERT_DIR=DIR (dovecot_start
# and fake_imap_start take their certificates from there) and IMAP_CA
# (DIR/ca.crt). Checks every certificate with `openssl verify`.
imap_certs() {
  [[ $# -eq 1 ]] || fail "usage: imap_certs DIR"
  local dir=$1 name start end out
  mkdir -p "$dir/.ca/newcerts"
  dir=$(cd "$dir" && pwd)
  : >"$dir/.ca/index.txt"
  echo 01 >"$dir/.ca/serial"
  cat >"$dir/.ca/openssl.cnf" <<EOF
[ ca ]
default_ca = testca
[ testca ]
database = $dir/.ca/index.txt
new_certs_dir = $dir/.ca/newcerts
serial = $dir/.ca/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
commonName = supplied
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
EOF
  _imap_openssl req -x509 -config "$dir/.ca/openssl.cnf" -extensions v3_ca \
    -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 3 \
    -subj "/CN=dmarq test CA" -keyout "$dir/ca.key" -out "$dir/ca.crt"

  start=$(date -u -d '-1 hour' +%Y%m%d%H%M%SZ)
  end=$(date -u -d '+1 day' +%Y%m%d%H%M%SZ)
  _imap_leaf "$dir" good "DNS:localhost,IP:127.0.0.1,IP:127.0.0.2" "$start" "$end"
  _imap_leaf "$dir" wronghost "DNS:wrong.example" "$start" "$end"
  _imap_leaf "$dir" expired "DNS:localhost,IP:127.0.0.1" 20200101000000Z 20200102000000Z

  # Self-signed leaf (CA:FALSE), not issued by the test CA.
  _imap_leaf_ext "$dir/.ca/untrusted.ext" "DNS:localhost,IP:127.0.0.1" self
  cat "$dir/.ca/openssl.cnf" "$dir/.ca/untrusted.ext" >"$dir/.ca/untrusted.cnf"
  _imap_openssl req -x509 -config "$dir/.ca/untrusted.cnf" -extensions leaf \
    -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 1 \
    -subj "/CN=localhost" -keyout "$dir/untrusted.key" -out "$dir/untrusted.crt"

  for name in good wronghost; do
    out=$(openssl verify -CAfile "$dir/ca.crt" "$dir/$name.crt" 2>&1) ||
      fail "imap_certs: $name.crt does not verify against ca.crt: $out"
  done
  if out=$(openssl verify -CAfile "$dir/ca.crt" "$dir/expired.crt" 2>&1); then
    fail "imap_certs: expired.crt verifies: $out"
  fi
  [[ "$out" == *"certificate has expired"* ]] ||
    fail "imap_certs: expired.crt fails for the wrong reason: $out"
  if out=$(openssl verify -CAfile "$dir/ca.crt" "$dir/untrusted.crt" 2>&1); then
    fail "imap_certs: untrusted.crt verifies against ca.crt: $out"
  fi
  out=$(openssl verify -CAfile "$dir/untrusted.crt" "$dir/untrusted.crt" 2>&1) ||
    fail "imap_certs: untrusted.crt is not a valid self-signed certificate: $out"
  out=$(openssl x509 -in "$dir/wronghost.crt" -noout -ext subjectAltName 2>&1)
  [[ "$out" == *"DNS:wrong.example"* && "$out" != *localhost* && "$out" != *127.0.0.1* ]] ||
    fail "imap_certs: unexpected SAN in wronghost.crt: $out"
  chmod 644 "$dir"/*.crt "$dir"/*.key
  export IMAP_CERT_DIR=$dir IMAP_CA=$dir/ca.crt
}

# _imap_openssl ARGS...: openssl ARGS, quiet unless it fails.
_imap_openssl() {
  local out
  out=$(openssl "$@" 2>&1) || fail "imap_certs: openssl $1 failed: $out"
}

# _imap_leaf_ext FILE SAN [self]: an extension section [leaf] for a TLS
# server certificate (no authority key id when self-signed).
_imap_leaf_ext() {
  cat >"$1" <<EOF
[ leaf ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
subjectAltName = $2
EOF
  [[ "${3:-}" == self ]] || echo "authorityKeyIdentifier = keyid:always" >>"$1"
}

# _imap_leaf DIR NAME SAN START END: NAME.key + NAME.crt issued by the CA.
_imap_leaf() {
  local dir=$1 name=$2 cn=${3%%,*}
  cn=${cn#DNS:}
  _imap_leaf_ext "$dir/.ca/$name.ext" "$3"
  _imap_openssl req -new -config "$dir/.ca/openssl.cnf" \
    -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -subj "/CN=$cn" -keyout "$dir/$name.key" -out "$dir/.ca/$name.csr"
  _imap_openssl ca -batch -config "$dir/.ca/openssl.cnf" -notext \
    -cert "$dir/ca.crt" -keyfile "$dir/ca.key" -in "$dir/.ca/$name.csr" \
    -startdate "$4" -enddate "$5" -extfile "$dir/.ca/$name.ext" -extensions leaf \
    -out "$dir/$name.crt"
}

# --------------------------------------------------------------------------
# Dovecot

# State of the current instance (one per script at a time).
_DV_DIR=""       # its directory (removed by the next start and by cleanup)
_DV_PG=""        # master pid = process group of the whole instance
_DV_WATCHDOG=""  # pid (= process group) of the detached watchdog
_DV_PORTS=()     # (IMAPS_PORT IMAP_PORT) of the instance
_DV_PWHASH=""


# _dv_tcp_sockets STATES PORT...: count of sockets in /proc/net/tcp whose
# local port is one of PORT and whose state (hex, e.g. 0A = LISTEN,
# 01 = ESTABLISHED, 08 = CLOSE_WAIT) is in the regex STATES.
_dv_tcp_sockets() {
  local states=$1 p ports=""
  shift
  (($#)) || { echo 0; return; }
  for p in "$@"; do ports+="$(printf '%04X' "$p") "; done
  awk -v ports="$ports" -v states="^($states)\$" '
    NR > 1 { split($2, a, ":"); if (index(" " ports, " " a[2] " ") && $4 ~ states) n++ }
    END { print n + 0 }' /proc/net/tcp
}

# _dv_wait_gone SECS: waits until the instance's processes are gone and its
# ports no longer listen; returns 1 on timeout.
_dv_wait_gone() {
  local deadline=$((SECONDS + $1))
  while process_group_alive "$_DV_PG" ||
    [[ $(_dv_tcp_sockets 0A "${_DV_PORTS[@]}") != 0 ]]; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

# dovecot_stop: graceful stop (SIGTERM to the master, like `dovecot stop`);
# waits until every process of the instance is gone and both ports are
# closed (Dovecot takes 1-2 s), SIGKILL after 10 s. Keeps DOVECOT_DIR
# (logs stay readable) until the next dovecot_start or the cleanup.
dovecot_stop() {
  [[ -n "$_DV_PG" ]] || return 0
  kill -TERM "$_DV_PG" 2>/dev/null || true
  if ! _dv_wait_gone 10; then
    echo "dovecot_stop: Dovecot did not stop within 10 s; killing it" >&2
    dovecot_kill
    return 0
  fi
  _DV_PG=""
}

# dovecot_kill: stops the instance at once (SIGKILL to its process group);
# clients see the connection drop without a BYE.
dovecot_kill() {
  [[ -n "$_DV_PG" ]] || return 0
  kill -KILL -- "-$_DV_PG" 2>/dev/null || true
  _dv_wait_gone 10 || echo "dovecot_kill: processes of group $_DV_PG still alive" >&2
  _DV_PG=""
}

# _dv_remove: kills the instance and its watchdog, removes its directory.
_dv_remove() {
  if [[ -z "$_DV_PG" && -n "$_DV_DIR" && -s "$_DV_DIR/run/master.pid" ]]; then
    # Interrupted between starting Dovecot and recording its pid.
    _DV_PG=$(cat "$_DV_DIR/run/master.pid" 2>/dev/null || true)
  fi
  dovecot_kill
  if [[ -n "$_DV_WATCHDOG" ]]; then
    kill -KILL -- "-$_DV_WATCHDOG" 2>/dev/null || true
    _DV_WATCHDOG=""
  fi
  if [[ -n "$_DV_DIR" ]]; then
    rm -rf "$_DV_DIR"
    _DV_DIR=""
  fi
  _DV_PORTS=()
}

# _dv_free_ports: two distinct TCP ports free on both 127.0.0.1 and 127.0.0.2.
_dv_free_ports() {
  python3 - <<'EOF'
import socket
ports = []
while len(ports) < 2:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.2", port))
    except OSError:
        continue
    if port not in ports:
        ports.append(port)
print(*ports)
EOF
}

# _dv_wait_ready: until Dovecot sends its real greeting (not "Waiting for
# authentication process") on the cleartext port and completes a TLS
# handshake plus greeting on the TLS port, on both addresses; 10 s at most.
_dv_wait_ready() {
  python3 - "$IMAP_PORT" "$IMAPS_PORT" <<'EOF'
import socket, ssl, sys, time
plain, tls = int(sys.argv[1]), int(sys.argv[2])
deadline = time.monotonic() + 10
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
last = "no attempt"
for host in ("127.0.0.1", "127.0.0.2"):
    for port in (plain, tls):
        while True:
            try:
                with socket.create_connection((host, port), timeout=2) as raw:
                    s = ctx.wrap_socket(raw) if port == tls else raw
                    greeting = s.makefile("rb").readline()
                    if greeting.startswith(b"* OK [CAPABILITY"):
                        s.sendall(b"r LOGOUT\r\n")
                        break
                    last = repr(greeting)
            except OSError as e:
                last = str(e)
            if time.monotonic() > deadline:
                sys.exit(f"{host}:{port}: not ready after 10 s: {last}")
            time.sleep(0.05)
EOF
}

# dovecot_start CERT_NAME SEP: starts a rootless Dovecot that serves
# $IMAP_CERT_DIR/CERT_NAME.crt/.key (run imap_certs first), with IMAP
# hierarchy separator SEP ("." = Maildir++ layout, "/" = LAYOUT=fs), on
# 127.0.0.1 and 127.0.0.2, two free high ports. One user, tester / secret.
# A running instance is killed and its directory removed first, so every
# start begins with an empty mailbox. Waits until it serves (10 s, else it
# prints the logs and fails). Exports:
#   IMAPS_PORT       implicit-TLS port
#   IMAP_PORT        cleartext port (STARTTLS; LOGINDISABLED unless the
#                    client connects 127.0.0.1 -> 127.0.0.1, see dovecot.conf.in)
#   DOVECOT_DIR      the instance's directory (owned by the Dovecot user)
#   DOVECOT_CONF     its config file
#   DOVECOT_MAILDIR  tester's INBOX Maildir (cur/ new/ tmp/)
#   DOVECOT_LOG      info log: logins, disconnects, auth failures
#   DOVECOT_ERRLOG   error/warning log
#   DOVECOT_SEPARATOR  SEP
#   DOVECOT_PID      master pid (also the process group of the instance)
dovecot_start() {
  [[ $# -eq 2 ]] || fail "usage: dovecot_start CERT_NAME SEPARATOR"
  local cert=$1 sep=$2 location dir ports rc out
  [[ -n "${IMAP_CERT_DIR:-}" ]] || fail "dovecot_start: run imap_certs DIR first"
  [[ -f "$IMAP_CERT_DIR/$cert.crt" && -f "$IMAP_CERT_DIR/$cert.key" ]] ||
    fail "dovecot_start: no certificate $IMAP_CERT_DIR/$cert.crt/.key"
  case $sep in
    .) location='maildir:~/Maildir' ;;
    /) location='maildir:~/Maildir:LAYOUT=fs' ;;
    *) fail "dovecot_start: separator must be . or /, not [$sep]" ;;
  esac
  _dv_remove
  daemon_identity
  [[ -n "$_DV_PWHASH" ]] ||
    _DV_PWHASH=$(doveadm -c /dev/null pw -s SHA512-CRYPT -p "$IMAP_PASSWORD") ||
    fail "dovecot_start: doveadm pw failed"

  # Not below $work: that is root's 0700 directory, and Dovecot runs as nobody.
  dir=$(mktemp -d "${DOVECOT_TMPDIR:-/tmp}/dmarq-dovecot.XXXXXX")
  _DV_DIR=$dir
  mkdir -p "$dir"/{run,state,log,tls} "$dir/home/$IMAP_USER/Maildir"/{cur,new,tmp}
  cp "$IMAP_CERT_DIR/$cert.crt" "$dir/tls/server.crt"
  cp "$IMAP_CERT_DIR/$cert.key" "$dir/tls/server.key"
  printf '%s:%s::::::\n' "$IMAP_USER" "$_DV_PWHASH" >"$dir/passwd"
  : >"$dir/log/dovecot.log"
  : >"$dir/log/dovecot-info.log"
  chmod 700 "$dir"
  if [[ $(id -u) == 0 ]]; then chown -R "$DAEMON_USER:$DAEMON_GROUP" "$dir"; fi
  "${DAEMON_AS[@]}" test -r "$dir/passwd" ||
    fail "dovecot_start: $DAEMON_USER cannot read $dir (set DOVECOT_TMPDIR to a world-traversable dir)"

  for _ in 1 2 3 4 5; do
    ports=$(_dv_free_ports) || fail "dovecot_start: cannot find free ports"
    IMAPS_PORT=${ports% *}
    IMAP_PORT=${ports#* }
    _DV_PORTS=("$IMAPS_PORT" "$IMAP_PORT")
    sed -e "s|@DIR@|$dir|g" -e "s|@USER@|$DAEMON_USER|g" -e "s|@GROUP@|$DAEMON_GROUP|g" \
      -e "s|@IMAPS_PORT@|$IMAPS_PORT|g" -e "s|@IMAP_PORT@|$IMAP_PORT|g" \
      -e "s|@SEPARATOR@|$sep|g" -e "s|@MAIL_LOCATION@|$location|g" \
      "$IMAP_LIB_DIR/dovecot.conf.in" >"$dir/dovecot.conf"
    if [[ $(id -u) == 0 ]]; then chown "$DAEMON_USER:$DAEMON_GROUP" "$dir/dovecot.conf"; fi
    # The daemon keeps the stdout/stderr it was started with: give it a
    # file, never a pipe (a command substitution or the test runner's pipe
    # would then never see EOF).
    set +e
    "${DAEMON_AS[@]}" dovecot -c "$dir/dovecot.conf" </dev/null >"$dir/log/start.out" 2>&1
    rc=$?
    set -e
    out=$(cat "$dir/log/start.out")
    [[ $rc == 0 ]] && break
    [[ "$out" == *"Address already in use"* ]] ||
      fail "dovecot_start: dovecot exited $rc: $out"
    echo "dovecot_start: ports $IMAPS_PORT/$IMAP_PORT taken, retrying" >&2
  done
  [[ $rc == 0 ]] || fail "dovecot_start: no free ports after 5 attempts: $out"
  # dovecot returns once it has forked; the daemon writes its pid file a
  # moment later (seen missing on a loaded CI machine).
  for _ in $(seq 1000); do
    [[ -s "$dir/run/master.pid" ]] && break
    sleep 0.01
  done
  [[ -s "$dir/run/master.pid" ]] || fail "dovecot_start: no $dir/run/master.pid after 10 s: $(cat "$dir/log/"*.log 2>/dev/null)"
  _DV_PG=$(cat "$dir/run/master.pid")

  export IMAPS_PORT IMAP_PORT DOVECOT_DIR=$dir DOVECOT_CONF=$dir/dovecot.conf \
    DOVECOT_MAILDIR=$dir/home/$IMAP_USER/Maildir DOVECOT_LOG=$dir/log/dovecot-info.log \
    DOVECOT_ERRLOG=$dir/log/dovecot.log DOVECOT_SEPARATOR=$sep DOVECOT_PID=$_DV_PG

  # Watchdog, detached from this script's process tree (a test runner that
  # kills the tree will not kill it): when this script is gone without having
  # cleaned up, it kills the instance and removes its directory.
  # shellcheck disable=SC2016 # expanded by the watchdog's bash
  setsid -f bash -c '
    echo $$ >"$2/watchdog.pid"
    while kill -0 "$1" 2>/dev/null && [[ -d $2 ]]; do sleep 1; done
    [[ -d $2 ]] || exit 0
    kill -TERM "$3" 2>/dev/null; sleep 1; kill -KILL -- "-$3" 2>/dev/null
    rm -rf "$2"' dmarq-dovecot-watchdog "$$" "$dir" "$_DV_PG" </dev/null >/dev/null 2>&1
  for _ in $(seq 100); do
    [[ -s "$dir/watchdog.pid" ]] && break
    sleep 0.01
  done
  _DV_WATCHDOG=$(cat "$dir/watchdog.pid" 2>/dev/null || true)

  if ! out=$(_dv_wait_ready 2>&1); then
    echo "--- $DOVECOT_ERRLOG" >&2
    cat "$DOVECOT_ERRLOG" >&2
    echo "--- $DOVECOT_LOG" >&2
    cat "$DOVECOT_LOG" >&2
    fail "dovecot_start: Dovecot does not answer: $out"
  fi
}

# dovecot_deliver FILE...: delivers each FILE (a whole RFC 5322 message) to
# tester's INBOX the way an MDA does: written to tmp/ under a unique Maildir
# name, owned by the Dovecot user, then renamed into new/. Dovecot assigns
# UIDs in argument order. One python3 process for all files (2,000 messages
# take well under a second).
dovecot_deliver() {
  [[ -n "${DOVECOT_MAILDIR:-}" ]] || fail "dovecot_deliver: no Dovecot started"
  (($#)) || return 0
  python3 - "$DOVECOT_MAILDIR" "$@" <<'EOF' || fail "dovecot_deliver failed"
import os, socket, sys, time
maildir, files = sys.argv[1], sys.argv[2:]
st = os.stat(maildir)
chown = os.geteuid() == 0
# <secs>.M<usecs>P<pid>Q<n>.<host>: one timestamp for the whole batch plus a
# strictly increasing Q counter (Dovecot sorts new mail by name).
now = time.time()
secs, usecs = int(now), int((now % 1) * 1e6)
host = socket.gethostname().replace("/", "_").replace(":", "_") or "localhost"
for n, path in enumerate(files):
    with open(path, "rb") as f:
        data = f.read()
    name = f"{secs}.M{usecs}P{os.getpid()}Q{n:06d}.{host}"
    tmp = os.path.join(maildir, "tmp", name)
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(data)
        if chown:
            os.fchown(out.fileno(), st.st_uid, st.st_gid)
    os.rename(tmp, os.path.join(maildir, "new", name))
EOF
}

# _dv_doveadm ARGS...: doveadm on the instance, as the Dovecot user.
_dv_doveadm() {
  "${DAEMON_AS[@]}" doveadm -c "$DOVECOT_CONF" "$@"
}

# dovecot_folder_count FOLDER: prints the number of messages in tester's
# folder FOLDER as Dovecot sees it (name with the server's separator: INBOX,
# Processed, INBOX.Processed, A/B ...), or "missing" when it does not exist.
# Uses `doveadm mailbox status` (works rootless, as the Dovecot user); needs
# the instance running (doveadm asks its auth process for the user).
dovecot_folder_count() {
  [[ $# -eq 1 ]] || fail "usage: dovecot_folder_count FOLDER"
  [[ -n "${DOVECOT_CONF:-}" ]] || fail "dovecot_folder_count: no Dovecot started"
  local out rc
  set +e
  out=$(_dv_doveadm -f tab mailbox status -u "$IMAP_USER" messages "$1" 2>&1)
  rc=$?
  set -e
  if [[ $rc == 68 ]]; then
    echo missing
  elif [[ $rc == 0 ]]; then
    out=${out##*$'\n'}   # tab format: a header line, then "FOLDER<TAB>N"
    out=${out##*$'\t'}
    [[ "$out" =~ ^[0-9]+$ ]] || fail "dovecot_folder_count $1: unexpected doveadm output [$out]"
    echo "$out"
  else
    fail "dovecot_folder_count $1: doveadm exited $rc: $out"
  fi
}

# dovecot_message_ids FOLDER: prints the Message-ID header of every message
# in tester's folder FOLDER, one a line, in UID order (duplicates kept, so
# `sort | uniq -d` finds a message stored twice). Uses `doveadm fetch`;
# needs the instance running.
dovecot_message_ids() {
  [[ $# -eq 1 ]] || fail "usage: dovecot_message_ids FOLDER"
  [[ -n "${DOVECOT_CONF:-}" ]] || fail "dovecot_message_ids: no Dovecot started"
  local out
  out=$(_dv_doveadm -f tab fetch -u "$IMAP_USER" hdr.message-id mailbox "$1") ||
    fail "dovecot_message_ids $1: doveadm fetch failed (its stderr is above)"
  printf '%s\n' "$out" | tail -n +2 | grep -v '^$' || true  # tab format: a header line first
}

# _dv_settle: waits (5 s at most) until no client connection to the instance
# is still open on the server side and the log has stopped growing, so that
# the counts below include the connections that just ended.
_dv_settle() {
  local deadline=$((SECONDS + 5)) a b
  while [[ $(_dv_tcp_sockets '01|08' "${_DV_PORTS[@]}") != 0 ]] &&
    ((SECONDS < deadline)); do
    sleep 0.05
  done
  a=$(stat -c %s "$DOVECOT_LOG")
  while :; do
    sleep 0.1
    b=$(stat -c %s "$DOVECOT_LOG")
    [[ $a == "$b" ]] && break
    a=$b
  done
}

# dovecot_logins: number of successful logins (as tester) logged so far.
# Settles first, so call it once the client has exited.
dovecot_logins() {
  [[ -n "${DOVECOT_LOG:-}" ]] || fail "dovecot_logins: no Dovecot started"
  _dv_settle
  grep -c 'imap-login: Info: Login: user=<tester>' "$DOVECOT_LOG" || true
}

# dovecot_auth_attempts: number of client connections that tried to
# authenticate at all (successful login, wrong password, LOGIN/AUTHENTICATE
# refused on a cleartext connection, aborted SASL ...). Counts imap-login's
# "Login:" lines and its "Disconnected ..." summaries except those saying
# "(no auth attempts ...)" or "(disconnected before auth was ready ...)".
# A test proves "refused before login" by this number not changing.
# Settles first, so call it once the client has exited.
dovecot_auth_attempts() {
  [[ -n "${DOVECOT_LOG:-}" ]] || fail "dovecot_auth_attempts: no Dovecot started"
  _dv_settle
  grep -E 'imap-login: Info: (Login: |Disconnected)' "$DOVECOT_LOG" |
    grep -c -v -E '\((no auth attempts|disconnected before auth was ready)' || true
}

# dovecot_imap CMD...: logs in as tester over implicit TLS (127.0.0.1,
# verifying against $IMAP_CA), sends the tagged commands CMD (e.g.
# 'CREATE A/B' 'LIST "" *'), then LOGOUT, and prints the whole session.
# For checks in tests; not fast (one python3 process per call).
dovecot_imap() {
  python3 - "$IMAPS_PORT" "${IMAP_CA:-$IMAP_CERT_DIR/ca.crt}" "$IMAP_USER" "$IMAP_PASSWORD" "$@" <<'EOF'
import socket, ssl, sys
port, ca, user, password, cmds = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
ctx = ssl.create_default_context(cafile=ca)
with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        f = s.makefile("rb")
        sys.stdout.write(f.readline().decode("utf-8", "replace"))
        for n, cmd in enumerate([f"LOGIN {user} {password}"] + cmds + ["LOGOUT"]):
            tag = f"t{n}"
            s.sendall(f"{tag} {cmd}\r\n".encode())
            while True:
                line = f.readline()
                if not line:
                    sys.exit("connection closed")
                sys.stdout.write(line.decode("utf-8", "replace"))
                if line.startswith(tag.encode() + b" "):
                    break
EOF
}

# --------------------------------------------------------------------------
# Fake IMAP server (tests/imap/fake_imap.py; read its header for scenarios)

_FAKE_PIDS=()
_FAKE_N=0

# fake_imap_start SCENARIO [tls|starttls|plain] [EXTRA ARGS...]: starts
# fake_imap.py in the background on 127.0.0.1, port 0, with
# $IMAP_CERT_DIR/good.crt for tls (implicit TLS, the default when certs
# exist) or starttls; "plain" for cleartext. EXTRA ARGS go to fake_imap.py
# (e.g. --connections 2, --message FILE, --tls-cert other.crt --tls-key ...).
# Waits for its port. Exports FAKE_IMAP_PORT, FAKE_IMAP_PID, FAKE_IMAP_LOG
# (its stderr: "C: " lines are what the client sent).
fake_imap_start() {
  (($# >= 1)) || fail "usage: fake_imap_start SCENARIO [tls|starttls|plain] [ARGS...]"
  [[ -n "${work:-}" && -d "$work" ]] || fail "fake_imap_start: no \$work directory"
  local scenario=$1 mode=""
  shift
  case ${1:-} in
    tls | starttls | plain) mode=$1; shift ;;
    *) if [[ -n "${IMAP_CERT_DIR:-}" ]]; then mode=tls; else mode=plain; fi ;;
  esac
  local -a args=(--scenario "$scenario")
  case $mode in
    tls) args+=(--tls-cert "$IMAP_CERT_DIR/good.crt" --tls-key "$IMAP_CERT_DIR/good.key") ;;
    starttls) args+=(--starttls --tls-cert "$IMAP_CERT_DIR/good.crt" --tls-key "$IMAP_CERT_DIR/good.key") ;;
    plain) ;;
    *) fail "fake_imap_start: mode must be tls, starttls or plain, not [$mode]" ;;
  esac
  _FAKE_N=$((_FAKE_N + 1))
  local portfile=$work/fake_imap.$_FAKE_N.port
  FAKE_IMAP_LOG=$work/fake_imap.$_FAKE_N.log
  python3 "$IMAP_LIB_DIR/fake_imap.py" "${args[@]}" "$@" --port-file "$portfile" \
    </dev/null >"$FAKE_IMAP_LOG" 2>&1 &
  FAKE_IMAP_PID=$!
  _FAKE_PIDS+=("$FAKE_IMAP_PID")
  for _ in $(seq 200); do
    [[ -s "$portfile" ]] && break
    kill -0 "$FAKE_IMAP_PID" 2>/dev/null || break
    sleep 0.025
  done
  [[ -s "$portfile" ]] || fail "fake_imap_start $scenario: no port; log: $(cat "$FAKE_IMAP_LOG")"
  FAKE_IMAP_PORT=$(cat "$portfile")
  export FAKE_IMAP_PORT FAKE_IMAP_PID FAKE_IMAP_LOG
}

# fake_imap_wait [SECS]: waits (default 10 s) for the fake server to exit on
# its own (it exits after serving its connections); returns 1 on timeout.
fake_imap_wait() {
  local deadline=$((SECONDS + ${1:-10}))
  while kill -0 "$FAKE_IMAP_PID" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
  wait "$FAKE_IMAP_PID" 2>/dev/null || true
}

# fake_imap_stop: kills the current fake server (no-op when it has exited).
fake_imap_stop() {
  [[ -n "${FAKE_IMAP_PID:-}" ]] || return 0
  _fake_kill "$FAKE_IMAP_PID"
}

# _fake_kill PID: SIGTERM to PID if it still is one of our fake servers (not
# a recycled pid), then reaps it.
_fake_kill() {
  local cmd
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" || true)
  [[ "$cmd" != *fake_imap.py* ]] || kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# fake_imap_client_commands [LOG]: the IMAP command names the client sent
# to the fake server (one per line, upper case, "UID FETCH" as two words),
# e.g. `[[ $(fake_imap_client_commands) != *LOGIN* ]]`.
fake_imap_client_commands() {
  sed -n 's/^C: [^ ]* \(UID [^ ]*\|[^ ]*\).*$/\1/p' "${1:-$FAKE_IMAP_LOG}" | tr '[:lower:]' '[:upper:]'
}

# --------------------------------------------------------------------------

# imap_cleanup: kills every fake server and the Dovecot instance started
# here and removes the Dovecot directory. Idempotent; never fails.
# tests/cli/lib.sh's cli_cleanup runs it (CLEANUP_HOOKS).
imap_cleanup() {
  local pid
  for pid in "${_FAKE_PIDS[@]}"; do _fake_kill "$pid"; done
  _FAKE_PIDS=()
  _dv_remove || true
}
