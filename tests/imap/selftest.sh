#!/usr/bin/env bash
# Self-test of the IMAP test kit (tests/imap/lib.sh, dovecot.conf.in,
# fake_imap.py); needs no dmarq. Usage: bash tests/imap/selftest.sh
# [DMARQ DATA] (the two CLI-test arguments are accepted and ignored).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../cli/lib.sh"
source "$here/lib.sh"
work=$(mktemp -d)
trap cli_cleanup EXIT
export HOME=$work

step() { echo "== $*"; }
now_ms() { date +%s%3N; }

# imap_s_client ADDR PORT CMD...: one implicit-TLS session with openssl
# s_client (verifying the server as localhost against the test CA); the
# commands are pipelined, the last one should be LOGOUT.
imap_s_client() {
  local addr=$1 port=$2
  shift 2
  printf '%s\r\n' "$@" |
    timeout 10 openssl s_client -quiet -connect "$addr:$port" -CAfile "$IMAP_CA" \
      -verify_return_error -verify_hostname localhost 2>/dev/null
}

# tls_verify_output: what `openssl s_client` says about the running Dovecot's
# certificate when verifying it as localhost against the test CA.
tls_verify_output() {
  timeout 10 openssl s_client -connect "127.0.0.1:$IMAPS_PORT" -CAfile "$IMAP_CA" \
    -verify_return_error -verify_hostname localhost </dev/null 2>&1 || true
}

# --------------------------------------------------------------------------
step "certificates"
t=$(now_ms)
imap_certs "$work/certs"
echo "imap_certs: $(($(now_ms) - t)) ms"
for f in ca good wronghost expired untrusted; do
  expect_file "$work/certs/$f.crt"
  expect_file "$work/certs/$f.key"
done
expect_eq "IMAP_CA" "$work/certs/ca.crt" "$IMAP_CA"

# --------------------------------------------------------------------------
step "Dovecot, separator ."
t=$(now_ms)
dovecot_start good .
pids=("$DOVECOT_PID")
dirs=("$DOVECOT_DIR")
echo "dovecot_start: $(($(now_ms) - t)) ms (ports $IMAPS_PORT/$IMAP_PORT, dir $DOVECOT_DIR)"
[[ "$IMAPS_PORT" =~ ^[0-9]+$ && "$IMAP_PORT" =~ ^[0-9]+$ && "$IMAPS_PORT" != "$IMAP_PORT" ]] ||
  fail "bad ports [$IMAPS_PORT] [$IMAP_PORT]"
expect_eq "separator" . "$DOVECOT_SEPARATOR"
[[ -d "$DOVECOT_MAILDIR/new" && -d "$DOVECOT_MAILDIR/cur" && -d "$DOVECOT_MAILDIR/tmp" ]] ||
  fail "no Maildir at $DOVECOT_MAILDIR"
expect_eq "INBOX count, empty" 0 "$(dovecot_folder_count INBOX)"
expect_eq "missing folder" missing "$(dovecot_folder_count Processed)"
expect_eq "logins at start" 0 "$(dovecot_logins)"
expect_eq "auth attempts at start (readiness probes do not count)" 0 "$(dovecot_auth_attempts)"

for i in 1 2 3; do
  printf 'From: a@example.org\r\nTo: b@example.com\r\nSubject: msg %s\r\nMessage-ID: <m%s@selftest>\r\n\r\nbody %s\r\n' \
    "$i" "$i" "$i" >"$work/msg$i.eml"
done
dovecot_deliver "$work/msg1.eml" "$work/msg2.eml" "$work/msg3.eml"
expect_eq "INBOX count after 3 deliveries" 3 "$(dovecot_folder_count INBOX)"
owner=$(stat -c %U "$(find "$DOVECOT_MAILDIR/cur" "$DOVECOT_MAILDIR/new" -type f | head -1)")
[[ $(id -u) != 0 ]] || expect_eq "delivered file owner" nobody "$owner"

out=$(imap_s_client 127.0.0.1 "$IMAPS_PORT" 'a LOGIN tester secret' 'b CREATE a.b' \
  'c CREATE INBOX.Processed' 'd LIST "" "*"' 'e SELECT INBOX' \
  'f UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])' 'g LOGOUT')
expect_contains "s_client LOGIN" "a OK" "$out"
expect_contains "s_client LIST a.b" '"." a.b' "$out"
expect_contains "s_client LIST INBOX.Processed" '"." INBOX.Processed' "$out"
expect_contains "s_client LIST" "d OK" "$out"
for i in 1 2 3; do
  got=$(grep -a -A1 "UID $i BODY\[HEADER.FIELDS (SUBJECT)\] {" <<<"$out" | tail -1 | tr -d '\r')
  expect_eq "UID $i is delivery number $i" "Subject: msg $i" "$got"
done
expect_eq "a.b count" 0 "$(dovecot_folder_count a.b)"
expect_eq "INBOX.Processed count" 0 "$(dovecot_folder_count INBOX.Processed)"
expect_eq "logins after one session" 1 "$(dovecot_logins)"
expect_eq "auth attempts after one session" 1 "$(dovecot_auth_attempts)"

out=$(imap_s_client 127.0.0.2 "$IMAPS_PORT" 'a LOGIN tester wrong' 'b LOGOUT')
expect_contains "wrong password" "a NO [AUTHENTICATIONFAILED]" "$out"
expect_eq "logins after a wrong password" 1 "$(dovecot_logins)"
expect_eq "auth attempts after a wrong password" 2 "$(dovecot_auth_attempts)"

out=$(imap_s_client 127.0.0.2 "$IMAPS_PORT" 'a CAPABILITY' 'b LOGOUT')
expect_contains "capability" "b OK" "$out"
expect_eq "auth attempts after a session without login" 2 "$(dovecot_auth_attempts)"

# Cleartext port from 127.0.0.1 to 127.0.0.2: not "secured", so LOGIN is
# refused (and counts as an attempt: the password went over the wire).
out=$(python3 - "$IMAP_PORT" <<'EOF'
import socket, sys
with socket.create_connection(("127.0.0.2", int(sys.argv[1])), timeout=5) as s:
    f = s.makefile("rb")
    print(f.readline().decode().strip())
    s.sendall(b"a LOGIN tester secret\r\nb LOGOUT\r\n")
    for line in f:
        print(line.decode().strip())
EOF
)
expect_contains "cleartext greeting" "STARTTLS LOGINDISABLED" "$out"
expect_contains "cleartext LOGIN refused" "a NO [PRIVACYREQUIRED]" "$out"
expect_eq "auth attempts after a cleartext LOGIN" 3 "$(dovecot_auth_attempts)"
expect_eq "logins after a cleartext LOGIN" 1 "$(dovecot_logins)"

out=$(dovecot_imap 'SELECT INBOX' 'UID SEARCH ALL')
expect_contains "dovecot_imap SEARCH" "* SEARCH 1 2 3" "$out"
expect_eq "logins after dovecot_imap" 2 "$(dovecot_logins)"

# 2,000 messages.
mkdir "$work/bulk"
python3 - "$work/bulk" <<'EOF'
import sys
for i in range(2000):
    with open(f"{sys.argv[1]}/{i:04d}.eml", "w") as f:
        f.write(f"From: a@example.org\r\nSubject: bulk {i}\r\n\r\n" + "x" * 2000 + "\r\n")
EOF
t=$(now_ms)
dovecot_deliver "$work"/bulk/*.eml
echo "dovecot_deliver 2000 messages: $(($(now_ms) - t)) ms"
t=$(now_ms)
expect_eq "INBOX count after 2000 more" 2003 "$(dovecot_folder_count INBOX)"
echo "dovecot_folder_count INBOX (first sync of 2000 new): $(($(now_ms) - t)) ms"

# --------------------------------------------------------------------------
step "Dovecot, separator /"
t=$(now_ms)
dovecot_start good /
pids+=("$DOVECOT_PID")
dirs+=("$DOVECOT_DIR")
echo "dovecot_start (restart): $(($(now_ms) - t)) ms"
expect_eq "fresh INBOX after restart" 0 "$(dovecot_folder_count INBOX)"
expect_eq "fresh log after restart" 0 "$(dovecot_logins)"
out=$(imap_s_client 127.0.0.1 "$IMAPS_PORT" 'a LOGIN tester secret' 'b CREATE A/B' \
  'c CREATE INBOX/Processed' 'd LIST "" "*"' 'e LOGOUT')
expect_contains "CREATE A/B" "b OK" "$out"
expect_contains "LIST A/B" '"/" A/B' "$out"
expect_contains "LIST INBOX/Processed" '"/" INBOX/Processed' "$out"
expect_eq "A/B count" 0 "$(dovecot_folder_count A/B)"
expect_eq "A.B is not a folder" missing "$(dovecot_folder_count A.B)"
[[ -d "$DOVECOT_MAILDIR/A/B/cur" ]] || fail "LAYOUT=fs: no $DOVECOT_MAILDIR/A/B"
dovecot_deliver "$work/msg1.eml"
expect_eq "INBOX count with /" 1 "$(dovecot_folder_count INBOX)"

# --------------------------------------------------------------------------
step "Dovecot serves the bad certificates"
out=$(tls_verify_output)
expect_contains "good cert on 127.0.0.1" "Verify return code: 0 (ok)" "$out"
out=$(timeout 10 openssl s_client -connect "127.0.0.2:$IMAPS_PORT" -CAfile "$IMAP_CA" \
  -verify_return_error -verify_ip 127.0.0.2 </dev/null 2>&1 || true)
expect_contains "good cert on 127.0.0.2" "Verify return code: 0 (ok)" "$out"
for c in wronghost:"hostname mismatch" expired:"certificate has expired" untrusted:"self-signed certificate"; do
  dovecot_start "${c%%:*}" .
  pids+=("$DOVECOT_PID")
  dirs+=("$DOVECOT_DIR")
  out=$(tls_verify_output)
  expect_contains "${c%%:*} cert" "${c#*:}" "$out"
  expect_eq "auth attempts with ${c%%:*} cert" 0 "$(dovecot_auth_attempts)"
done

t=$(now_ms)
ports=("$IMAPS_PORT" "$IMAP_PORT")
pid=$DOVECOT_PID
dovecot_stop
echo "dovecot_stop: $(($(now_ms) - t)) ms"
expect_eq "listening sockets after stop" 0 "$(_dv_tcp_sockets 0A "${ports[@]}")"
process_group_alive "$pid" && fail "Dovecot processes left after dovecot_stop"

# --------------------------------------------------------------------------
step "fake IMAP server"
cat >"$work/poke.py" <<'EOF'
import socket, ssl, sys, time

scenario, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def connect(tls=True, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls:
        ctx = ssl.create_default_context(cafile=ca)
        s = ctx.wrap_socket(s, server_hostname="localhost")
    return s

class Client:
    def __init__(self, s):
        self.s, self.f, self.n = s, s.makefile("rb"), 0
    def line(self):
        l = self.f.readline()
        if not l:
            raise EOFError("server closed")
        return l
    def cmd(self, text):
        self.n += 1
        tag = f"t{self.n}"
        self.s.sendall(f"{tag} {text}\r\n".encode())
        lines = []
        while True:
            l = self.line()
            lines.append(l)
            if l.startswith(tag.encode() + b" "):
                return lines

def check(cond, what):
    if not cond:
        sys.exit(f"{scenario}: {what}")

if scenario == "ok":
    c = Client(connect())
    check(c.line().startswith(b"* OK [CAPABILITY"), "greeting")
    check(c.cmd("LOGIN u p")[-1].startswith(b"t1 OK"), "login")
    r = c.cmd("SELECT INBOX")
    check(b"* 1 EXISTS\r\n" in r and b"* OK [UIDVALIDITY 7] UIDs valid\r\n" in r, f"select {r}")
    check(c.cmd("UID SEARCH ALL")[0] == b"* SEARCH 1\r\n", "search")
    r = b"".join(c.cmd("UID FETCH 1 (UID RFC822.SIZE BODY.PEEK[])"))
    check(b"BODY[] {" in r and b"Subject: fake message 1" in r and b"\r\nt4 OK" in r, f"fetch {r}")
    check(c.cmd("LOGOUT")[-1].startswith(b"t5 OK"), "logout")

elif scenario == "no-starttls":
    c = Client(connect(tls=False))
    check(c.line() == b"* OK fake IMAP server ready\r\n", "greeting")
    r = c.cmd("CAPABILITY")
    check(b"LOGINDISABLED" in r[0] and b"STARTTLS" not in r[0], f"capability {r}")
    check(c.cmd("STARTTLS")[-1] == b"t2 BAD not supported\r\n", "starttls")
    c.cmd("LOGOUT")

elif scenario == "huge-literal":
    c = Client(connect())
    c.line()
    c.cmd("LOGIN u p")
    r = c.cmd("SELECT INBOX")
    check(b"* 1 EXISTS\r\n" in r and b"* OK [UIDVALIDITY 7] UIDs valid\r\n" in r, "select")
    check(c.cmd("UID SEARCH ALL")[0] == b"* SEARCH 1\r\n", "search")
    c.s.sendall(b"t9 UID FETCH 1 (UID BODY.PEEK[])\r\n")
    check(c.line() == b"* 1 FETCH (UID 1 BODY[] {99999999999}\r\n", "literal header")
    c.s.settimeout(1.5)
    try:
        extra = c.s.recv(100)
        check(False, f"server sent more: {extra!r}")
    except (socket.timeout, TimeoutError):
        pass

elif scenario == "untagged-flood":
    c = Client(connect())
    c.line()
    c.cmd("LOGIN u p")
    c.s.sendall(b"t9 SELECT INBOX\r\n")
    total = 0
    while total < 5_000_000:
        l = c.line()
        check(l.startswith(b"* OK flood "), f"flood line {l!r}")
        total += len(l)

elif scenario == "slow":
    # A client that wants the greeting line within 3 s overall.
    s = connect(timeout=3)
    got = b""
    end = time.monotonic() + 3
    try:
        while b"\n" not in got and time.monotonic() < end:
            s.settimeout(max(end - time.monotonic(), 0.01))
            chunk = s.recv(100)
            check(chunk, "server closed")
            got += chunk
    except (socket.timeout, TimeoutError):
        pass
    check(b"\n" not in got and 1 <= len(got) <= 5, f"got {got!r} in 3 s")
    s.close()

elif scenario == "drop-mid-fetch":
    c = Client(connect())
    c.line()
    c.cmd("LOGIN u p")
    check(b"* 3 EXISTS\r\n" in c.cmd("SELECT INBOX"), "select")
    check(c.cmd("UID SEARCH ALL")[0] == b"* SEARCH 1 2 3\r\n", "search")
    c.s.sendall(b"t9 UID FETCH 1:* (UID BODY.PEEK[])\r\n")
    head = c.line()
    check(head.startswith(b"* 1 FETCH (UID 1 BODY[] {"), f"first {head!r}")
    n = int(head[head.rindex(b"{") + 1:-3])
    body = c.f.read(n)
    check(len(body) == n and body.startswith(b"Return-Path:"), "first body")
    check(c.line() == b")\r\n", "first close paren")
    head = c.line()
    check(head.startswith(b"* 2 FETCH (UID 2 BODY[] {"), f"second {head!r}")
    n = int(head[head.rindex(b"{") + 1:-3])
    rest = c.f.read()  # until EOF
    check(0 < len(rest) < n, f"second literal: {len(rest)} of {n}")

print(f"{scenario}: ok")
EOF

fakes=()
for sc in ok no-starttls huge-literal untagged-flood slow drop-mid-fetch; do
  mode=tls
  [[ $sc == no-starttls ]] && mode=plain
  t=$(now_ms)
  fake_imap_start "$sc" "$mode"
  fakes+=("$FAKE_IMAP_PID")
  run python3 "$work/poke.py" "$sc" "$FAKE_IMAP_PORT" "$IMAP_CA"
  [[ $rc == 0 ]] || fail "fake $sc: $err$out; server log: $(cat "$FAKE_IMAP_LOG")"
  fake_imap_wait 5 || fail "fake $sc did not exit after the client left; log: $(cat "$FAKE_IMAP_LOG")"
  echo "$out ($(($(now_ms) - t)) ms)"
  cmds=$(fake_imap_client_commands | tr '\n' ' ')
  case $sc in
    no-starttls)
      expect_eq "no-starttls commands" "CAPABILITY STARTTLS LOGOUT " "$cmds"
      [[ "$cmds" != *LOGIN* && "$cmds" != *AUTHENTICATE* ]] || fail "login seen" ;;
    slow) expect_eq "slow commands" "" "$cmds" ;;
    huge-literal) expect_eq "huge-literal commands" "LOGIN SELECT UID SEARCH UID FETCH " "$cmds" ;;
  esac
  log=$(cat "$FAKE_IMAP_LOG")
  expect_contains "fake $sc log" "-- done" "$log"
  case $sc in
    ok | no-starttls) expect_contains "fake $sc log" "-- server closing the connection" "$log" ;;
    drop-mid-fetch) expect_contains "fake $sc log" "-- dropping the connection mid-literal" "$log" ;;
    *) expect_contains "fake $sc log" "-- client gone" "$log" ;;
  esac
done

# STARTTLS mode: cleartext greeting with STARTTLS, then TLS.
fake_imap_start ok starttls
out=$(python3 - "$FAKE_IMAP_PORT" "$IMAP_CA" <<'EOF'
import socket, ssl, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
f = s.makefile("rb")
print(f.readline().decode().strip())
s.sendall(b"a STARTTLS\r\n")
print(f.readline().decode().strip())
t = ssl.create_default_context(cafile=sys.argv[2]).wrap_socket(s, server_hostname="localhost")
t.sendall(b"b LOGIN u p\r\n")
print(t.makefile("rb").readline().decode().strip())
t.sendall(b"c LOGOUT\r\n")
EOF
)
expect_contains "starttls greeting" "STARTTLS LOGINDISABLED" "$out"
expect_contains "starttls login" "b OK" "$out"
fake_imap_wait 5 || fail "fake starttls did not exit"

# Implicit TLS with a certificate the client does not trust.
fake_imap_start ok tls --tls-cert "$IMAP_CERT_DIR/untrusted.crt" --tls-key "$IMAP_CERT_DIR/untrusted.key"
run python3 "$work/poke.py" ok "$FAKE_IMAP_PORT" "$IMAP_CA"
expect_eq "client rejects the untrusted fake" 1 "$rc"
expect_contains "client error" "self-signed certificate" "$err"
fake_imap_wait 5 || fail "fake untrusted did not exit"
expect_contains "fake log" "TLS handshake failed" "$(cat "$FAKE_IMAP_LOG")"
expect_eq "nothing sent before the handshake failed" "" "$(fake_imap_client_commands)"

# Nobody connects: it exits by itself.
t=$(now_ms)
fake_imap_start ok tls --timeout 2
fake_imap_wait 10 || fail "fake server did not time out"
echo "idle fake server exited after $(($(now_ms) - t)) ms"
expect_contains "fake timeout log" "-- timeout" "$(cat "$FAKE_IMAP_LOG")"

# --------------------------------------------------------------------------
step "cleanup when a test fails midway, and when it is killed"
cat >"$work/child.sh" <<EOF
set -euo pipefail
source "$here/../cli/lib.sh"
source "$here/lib.sh"
work=\$(mktemp -d)
trap cli_cleanup EXIT
imap_certs "\$work/certs"
dovecot_start good .
fake_imap_start ok
echo "\$work \$DOVECOT_DIR \$DOVECOT_PID \$FAKE_IMAP_PID \$IMAPS_PORT \$IMAP_PORT" >"\$1"
if [[ "\${2:-}" == hang ]]; then
  mkfifo "\$work/fifo"
  exec 9<>"\$work/fifo"
  read -r -t 60 -u 9 _ || true
fi
fail "deliberate failure"
EOF
run bash "$work/child.sh" "$work/child.info"
expect_eq "failing child exit status" 1 "$rc"
expect_contains "failing child message" "deliberate failure" "$err"
read -r cwork cdir cpid cfake cp1 cp2 <"$work/child.info"
expect_no_file "$cwork"
expect_no_file "$cdir"
process_group_alive "$cpid" && fail "Dovecot of the failed child still runs"
kill -0 "$cfake" 2>/dev/null && fail "fake server of the failed child still runs"
expect_eq "ports of the failed child" 0 "$(_dv_tcp_sockets 0A "$cp1" "$cp2")"

rm -f "$work/child.info"
bash "$work/child.sh" "$work/child.info" hang >/dev/null 2>&1 &
child=$!
for _ in $(seq 200); do [[ -s "$work/child.info" ]] && break; sleep 0.05; done
read -r cwork cdir cpid cfake cp1 cp2 <"$work/child.info"
kill -KILL "$child"
wait "$child" 2>/dev/null || true
t=$(now_ms)
for _ in $(seq 100); do [[ -e "$cdir" ]] || break; sleep 0.05; done
expect_no_file "$cdir"
process_group_alive "$cpid" && fail "Dovecot of the killed child still runs"
echo "watchdog cleaned up after SIGKILL in $(($(now_ms) - t)) ms"
# Its fake server would exit after 60 s by itself; its $work leaks (SIGKILL).
kill "$cfake" 2>/dev/null || true
rm -rf "$cwork"

# --------------------------------------------------------------------------
step "final cleanup"
imap_cleanup
for pid in "${pids[@]}"; do
  process_group_alive "$pid" && fail "Dovecot instance $pid still runs"
done
for pid in "${fakes[@]}"; do
  kill -0 "$pid" 2>/dev/null && fail "fake server $pid still runs"
done
for f in /proc/[0-9]*/cmdline; do
  c=$(tr '\0' ' ' 2>/dev/null <"$f" || true)
  [[ "$c" == *"$work"* ]] && fail "process left: ${f#/proc/} $c"
done
for d in "${dirs[@]}"; do expect_no_file "$d"; done
echo ok
