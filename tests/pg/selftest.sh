#!/usr/bin/env bash
# pg: selftest -- the PostgreSQL harness of tests/pg/lib.sh itself:
#   - pg_start makes a cluster that answers over TCP on 127.0.0.1 with the
#     password from PGPASSFILE, and refuses a client without it (or with a
#     wrong one), over TCP and over its unix socket;
#   - it runs as the unprivileged server user and listens on 127.0.0.1:PORT
#     and its private unix socket only;
#   - the password is in no file but pgpass and in no command line;
#   - pg_create_db makes a database one can connect to;
#   - pg_stop leaves no process and a free port, and is idempotent;
#   - a server that does not stop (SIGSTOP) is killed, and a cluster whose
#     script died by SIGKILL is stopped by the watchdog.
# Usage: selftest.sh [WORKDIR]; the clusters live in a fresh mktemp
# directory under WORKDIR (else under $TMPDIR), removed when every check
# passed and kept (for the logs) otherwise. Prints "ok: ..." or "FAIL: ..."
# per check; exits 1 when any failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
exec </dev/null  # nothing here may wait for a terminal

failures=0
ok() { echo "ok: $*"; }
bad() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

if (($# >= 1)); then
  mkdir -p "$1"
  top=$(mktemp -d "$1/pg.XXXXXX")
else
  top=$(mktemp -d)
fi
# mktemp makes it 0700; the server user (nobody, when root) must get through.
chmod go+x "$top"

cleanup() {
  local rc=$? d
  for d in "$top"/main "$top"/hung "$top"/orphan; do pg_stop "$d" || rc=1; done
  if [[ $rc == 0 && $failures == 0 ]]; then
    rm -rf "$top"
  else
    echo "selftest: kept $top (server logs: */postgres.log)"
    [[ $rc != 0 ]] || rc=1
  fi
  exit "$rc"
}
trap cleanup EXIT

# psql_as URL PGPASSFILE SQL: one query as a dmarq client would run it (the
# URL as given, the password only from the file); sets rc, out, err.
psql_as() {
  set +e
  out=$(env -u PGPASSWORD -u PGHOSTADDR -u PGSERVICE PGPASSFILE="$2" PGGSSENCMODE=disable \
    PGCONNECT_TIMEOUT=10 psql -X -w -A -t -v ON_ERROR_STOP=1 "$1" -c "$3" 2>"$top/psql.err")
  rc=$?
  set -e
  err=$(cat "$top/psql.err")
}

# listen_report PORT PID...: one line per socket the processes PID hold
# (from /proc/PID/fd and /proc/net/*): "tcp LISTEN 127.0.0.1:5432" for a
# listening one, "tcp conn 127.0.0.1" for a connection (a backend still
# closing one), "unix /path" for a named unix socket, the same with tcp6,
# udp, udp6; plus "other-listener ADDR:PORT" for a socket of anyone that
# listens on PORT at an address but 127.0.0.1.
listen_report() {
  python3 - "$@" <<'EOF'
import os, socket, struct, sys
port, pids = int(sys.argv[1]), sys.argv[2:]

def addr4(hexaddr):
    ip, p = hexaddr.split(":")
    return socket.inet_ntop(socket.AF_INET, struct.pack("<I", int(ip, 16))), int(p, 16)

def addr6(hexaddr):
    ip, p = hexaddr.split(":")
    raw = b"".join(struct.pack("<I", int(ip[i:i + 8], 16)) for i in range(0, 32, 8))
    return socket.inet_ntop(socket.AF_INET6, raw), int(p, 16)

inet = {}  # inode -> (proto, state, addr, port)
for proto, conv in (("tcp", addr4), ("udp", addr4), ("tcp6", addr6), ("udp6", addr6)):
    with open(f"/proc/net/{proto}") as f:
        next(f)
        for line in f:
            fields = line.split()
            a, p = conv(fields[1])
            state = "LISTEN" if fields[3] == "0A" else fields[3]
            inet[fields[9]] = (proto, state, a, p)
            if proto.startswith("tcp") and state == "LISTEN" and p == port and a != "127.0.0.1":
                print(f"other-listener {a}:{p}")
unix = {}
with open("/proc/net/unix") as f:
    next(f)
    for line in f:
        fields = line.split()
        unix[fields[6]] = fields[7] if len(fields) > 7 else ""
for pid in pids:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        continue
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if not target.startswith("socket:["):
            continue
        inode = target[8:-1]
        if inode in inet:
            proto, state, a, p = inet[inode]
            print(f"{proto} LISTEN {a}:{p}" if state == "LISTEN" else f"{proto} conn {a}")
        elif inode in unix and unix[inode]:
            print(f"unix {unix[inode]}")
EOF
}

# alive PID: true while PID runs (a zombie, waiting for its parent or init
# to reap it, has stopped running).
alive() {
  local state
  state=$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# since T0: seconds since $EPOCHREALTIME was T0, to 0.01 s.
since() {
  local us=$((${EPOCHREALTIME/./} - ${1/./}))
  printf '%d.%02d' $((us / 1000000)) $((us % 1000000 / 10000))
}

# listeners PORT: "ADDR:PORT" of every TCP socket listening on PORT, IPv4
# and IPv6, whoever owns it (/proc/net/tcp and tcp6).
listeners() {
  python3 - "$1" <<'EOF2'
import socket, struct, sys
port = int(sys.argv[1])
for proto, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
    with open(f"/proc/net/{proto}") as f:
        next(f)
        for line in f:
            fields = line.split()
            ip, p = fields[1].split(":")
            if fields[3] != "0A" or int(p, 16) != port:
                continue
            raw = b"".join(struct.pack("<I", int(ip[i:i + 8], 16)) for i in range(0, len(ip), 8))
            print(f"{socket.inet_ntop(family, raw)}:{port}")
EOF2
}

# port_free PORT: true when a server could listen on 127.0.0.1:PORT now.
port_free() {
  python3 - "$1" <<'EOF'
import socket, sys
with socket.socket() as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as postgres does
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen()
EOF
}

# ---------------------------------------------------------------------------
# A cluster.

dir=$top/main
t0=$EPOCHREALTIME
if pg_start "$dir"; then
  ok "pg_start in $(since "$t0") s: port $PG_PORT"
else
  bad "pg_start failed (its reasons are above)"
  exit 1
fi
daemon_identity
port=$PG_PORT

if [[ "$PG_DIR" == "$(cd "$dir" && pwd -P)" && "$PGPASSFILE" == "$PG_DIR/pgpass" &&
  "$PG_URL" == "postgresql://dmarq@127.0.0.1:$port/dmarq" && "$port" =~ ^[0-9]+$ ]] && ((port > 1024)); then
  ok "exports PG_PORT=$PG_PORT PG_DIR PGPASSFILE PG_URL=$PG_URL"
else
  bad "exports: PG_PORT=[$PG_PORT] PG_DIR=[$PG_DIR] PGPASSFILE=[$PGPASSFILE] PG_URL=[$PG_URL]"
fi

pgpass_line=$(cat "$PGPASSFILE")
pw=${pgpass_line##*:}
if [[ "$pgpass_line" =~ ^127\.0\.0\.1:$port:\*:dmarq:[0-9a-f]{48}$ &&
  $(stat -c '%a %u' "$PGPASSFILE") == "600 $(id -u)" ]]; then
  ok "pgpass: one line for 127.0.0.1:$port, mode 600, owned by $(id -un)"
else
  bad "pgpass: [$(stat -c '%a %U' "$PGPASSFILE")] [${pgpass_line%:*}:...]"
fi

# inet_server_addr() is NULL over a unix socket: this proves TCP.
psql_as "$PG_URL" "$PGPASSFILE" "SELECT 1, inet_server_addr(), current_user, current_database()"
if [[ $rc == 0 && "$out" == "1|127.0.0.1|dmarq|dmarq" ]]; then
  ok "PG_URL + PGPASSFILE: SELECT 1 over TCP 127.0.0.1 as dmarq on dmarq"
else
  bad "PG_URL + PGPASSFILE: rc $rc, out [$out], err [$err]"
fi

# Without the password: refused by authentication (not a connection error,
# which would pass a bare "it failed" check just as well).
psql_as "$PG_URL" "$top/no-such-pgpass" "SELECT 1"
if [[ $rc != 0 && "$err" == *"no password supplied"* ]]; then
  ok "without pgpass: refused ($err)"
else
  bad "without pgpass: expected an authentication refusal, got rc $rc, out [$out], err [$err]"
fi

printf '127.0.0.1:%s:*:dmarq:%s\n' "$port" "not-the-password" >"$top/wrong-pgpass"
chmod 600 "$top/wrong-pgpass"
psql_as "$PG_URL" "$top/wrong-pgpass" "SELECT 1"
if [[ $rc != 0 && "$err" == *'password authentication failed for user "dmarq"'* ]]; then
  ok "wrong password: refused"
else
  bad "wrong password: expected an authentication failure, got rc $rc, out [$out], err [$err]"
fi

# The unix socket wants the password too (pgpass names 127.0.0.1 only, so
# the client has none for the socket).
psql_as "postgresql://dmarq@/dmarq?host=$PG_DIR/run&port=$port" "$PGPASSFILE" "SELECT 1"
if [[ $rc != 0 && "$err" == *"no password supplied"* ]]; then
  ok "unix socket without the password: refused"
else
  bad "unix socket without the password: rc $rc, out [$out], err [$err]"
fi

url=""
if url=$(pg_create_db x) && [[ "$url" == "postgresql://dmarq@127.0.0.1:$port/x" ]]; then
  psql_as "$url" "$PGPASSFILE" "SELECT current_database(), pg_catalog.pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
  if [[ $rc == 0 && "$out" == "x|dmarq" ]]; then
    ok "pg_create_db x: $url, owned by dmarq"
  else
    bad "pg_create_db x: connecting to $url: rc $rc, out [$out], err [$err]"
  fi
else
  bad "pg_create_db x: printed [$url]"
fi
if pg_create_db x >/dev/null 2>&1; then
  bad "pg_create_db x twice succeeded (did the first one create anything?)"
else
  ok "pg_create_db x twice: refused (the first one made it)"
fi

# Who runs it.
pid=$(head -n 1 "$PG_DIR/data/postmaster.pid")
mapfile -t procs < <(pg_procs "$PG_DIR/data")
users=$(for p in "${procs[@]}"; do stat -c %U "/proc/$p"; done | sort -u | tr '\n' ' ')
if [[ "$users" == "$DAEMON_USER " && ${#procs[@]} -ge 4 && " ${procs[*]} " == *" $pid "* &&
  $(stat -c %U "$PG_DIR/data") == "$DAEMON_USER" ]]; then
  ok "${#procs[@]} server processes (postmaster $pid), all run by $DAEMON_USER, who owns data/"
else
  bad "server processes [${procs[*]}] (postmaster $pid) run by [$users], data/ owned by $(stat -c %U "$PG_DIR/data"), expected $DAEMON_USER"
fi

# Where it listens: every socket of every server process.
report=$(listen_report "$port" "${procs[@]}" | grep -v -x 'tcp conn 127.0.0.1' | sort -u || true)
expected=$(printf '%s\n' "tcp LISTEN 127.0.0.1:$port" "unix $PG_DIR/run/.s.PGSQL.$port" | sort)
if [[ "$report" == "$expected" ]]; then
  ok "listens on 127.0.0.1:$port and $PG_DIR/run/.s.PGSQL.$port only"
else
  bad "sockets of the server: expected [$expected], got [$report]"
fi
echo "    listening on port $port: $(listeners "$port" | tr '\n' ' ')"

# The password: only in pgpass (initdb's pwfile is gone; the server keeps a
# SCRAM verifier), and on no command line.
# (grep reads it from a pipe: as an argument it would be on grep's own.)
files=$(grep -rlF -f <(echo "$pw") "$top" 2>/dev/null | grep -v -x -F "$PGPASSFILE" || true)
cmdlines=$(grep -lF -f <(echo "$pw") /proc/[0-9]*/cmdline 2>/dev/null || true)
if [[ -z "$files" && -z "$cmdlines" && ! -e "$PG_DIR/initdb.pw" ]]; then
  ok "password in no file but pgpass, on no command line"
else
  bad "password found in [$files] [$cmdlines]"
fi

# ---------------------------------------------------------------------------
# Stopping it.

watchdog=$(cat "$PG_DIR/watchdog.pid" 2>/dev/null || true)
t0=$EPOCHREALTIME
# A clean fast shutdown: nothing killed, nothing to say, the log's last word.
if pg_stop "$dir" 2>"$top/stop.err" && [[ ! -s "$top/stop.err" ]] &&
  [[ $(tail -n 1 "$PG_DIR/postgres.log") == *"database system is shut down"* ]]; then
  ok "pg_stop in $(since "$t0") s: clean shutdown"
else
  bad "pg_stop: said [$(cat "$top/stop.err")], log ends [$(tail -n 1 "$PG_DIR/postgres.log")]"
fi
left=$(pg_procs "$PG_DIR/data" | tr '\n' ' ')
alive=""
for p in "${procs[@]}" "$watchdog"; do
  [[ -n "$p" ]] && alive "$p" && alive+="$p "
done
if [[ -z "$left" && -z "$alive" ]]; then
  ok "after pg_stop: no process of $PG_DIR/data, no watchdog"
else
  bad "after pg_stop: cluster processes [$left], still alive [$alive]"
fi
listening=$(listeners "$port" | tr '\n' ' ')
if [[ -z "$listening" ]] && port_free "$port" && [[ ! -e "$PG_DIR/run/.s.PGSQL.$port" ]]; then
  ok "after pg_stop: port $port free, socket gone"
else
  bad "after pg_stop: port $port: listeners [$listening], run/ holds [$(ls -A "$PG_DIR/run")]"
fi
if pg_stop "$dir" && pg_stop "$top/never-started" && pg_stop "" && [[ -z "$(pg_procs "$PG_DIR/data")" ]]; then
  ok "pg_stop again, on a directory with no cluster, on none: no-ops"
else
  bad "pg_stop is not idempotent"
fi

# ---------------------------------------------------------------------------
# A server that does not stop: SIGSTOP, so it cannot act on pg_ctl's
# request; pg_stop must kill it (postmaster and every backend).

if pg_start "$top/hung" >/dev/null; then
  hung=$(head -n 1 "$top/hung/data/postmaster.pid")
  mapfile -t procs < <(pg_procs "$top/hung/data")
  kill -STOP "$hung"
  t0=$EPOCHREALTIME
  PG_STOP_TIMEOUT=3 pg_stop "$top/hung" 2>"$top/hung.err" || true
  alive=""
  for p in "${procs[@]}"; do alive "$p" && alive+="$p "; done
  if [[ -z "$alive" && -z "$(pg_procs "$top/hung/data")" ]] && grep -q "killing it" "$top/hung.err"; then
    ok "stopped server: killed by pg_stop after $(since "$t0") s (${#procs[@]} processes)"
  else
    bad "stopped server: alive [$alive]; pg_stop said [$(cat "$top/hung.err")]"
  fi
else
  bad "second pg_start failed"
fi

# ---------------------------------------------------------------------------
# A script that dies by SIGKILL with its cluster running: the watchdog
# stops the cluster.

# In a subshell whose stderr is dropped: bash would report "Killed".
rc=$( (bash -c 'source "$1/lib.sh"; pg_start "$2" >/dev/null 2>&1 || exit 3; kill -KILL $$' \
  orphan "$here" "$top/orphan"; echo $?) 2>/dev/null)
if [[ $rc == 137 ]]; then
  t0=$EPOCHREALTIME
  t1=$SECONDS
  # How long the watchdog takes is not the point (and a loaded CI machine
  # is slow): it must act, so the wait gives up only after a minute.
  while [[ -n "$(pg_procs "$top/orphan/data")" ]] && ((SECONDS - t1 < 60)); do sleep 0.2; done
  if [[ -z "$(pg_procs "$top/orphan/data")" ]]; then
    ok "script killed: the watchdog stopped its cluster $(since "$t0") s later"
  else
    bad "script killed: cluster still running after 60 s: $(pg_procs "$top/orphan/data" | tr '\n' ' ')"
  fi
else
  bad "orphan script: pg_start failed (exit $rc); log: $(tail -n 5 "$top/orphan/postgres.log" 2>/dev/null)"
fi

if ((failures)); then
  echo "selftest: $failures check(s) failed"
  exit 1
fi
echo "selftest: all checks passed"
