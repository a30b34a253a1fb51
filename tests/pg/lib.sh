# shellcheck shell=bash
# Helpers for the tests that need a real PostgreSQL: a private PostgreSQL 15
# cluster (Debian's postgresql-15) under a directory the test gives, on
# 127.0.0.1 and a free high port, run as an unprivileged user. Nothing here
# listens on or talks to anything but 127.0.0.1 and the cluster's own unix
# socket.
#
# Source it in a script that runs with `set -euo pipefail`; it only defines
# functions, which report errors on stderr and return non-zero (they never
# exit), so they also work in `if` and `||`:
#   source "$(dirname "$0")/../pg/lib.sh"
#   dir=$(mktemp -d)
#   trap 'pg_stop "$dir"' EXIT
#   pg_start "$dir"                     # exports PG_URL, PGPASSFILE ...
#   url=$(pg_create_db scratch)         # another empty database
# If the script dies without running its trap (SIGKILL, a CTest timeout), a
# detached watchdog stops the cluster within a few seconds. DIR itself is
# the test's: pg_stop keeps it (the log stays readable); the test removes it.
#
# How the cluster runs: initdb into DIR/data as DAEMON_USER (nobody:nogroup
# when root, through setpriv; else the invoking user), superuser "dmarq"
# with a random password and scram-sha-256 for every connection (pg_hba:
# the unix socket and 127.0.0.1/32, nothing else). The postmaster runs in
# a session of its own, with its stderr appended to DIR/postgres.log. Its
# children (backends, checkpointer ...) each call setsid() themselves, so
# its process group is not the whole cluster: the processes of a cluster
# are found by their working directory, DIR/data, where the postmaster
# chdirs first thing (pg_procs), and pg_stop and the watchdog kill those
# too. Durability is off (fsync, synchronous_commit,
# full_page_writes): a test cluster that crashes is thrown away anyway.
# The password is only ever written to files (initdb's --pwfile, removed
# after initdb, and DIR/pgpass for libpq), never passed on a command line.
#
# Layout of DIR:
#   data/          the cluster (0700, DAEMON_USER)
#   run/           unix socket directory (0700, DAEMON_USER)
#   postgres.log   server log (all attempts of pg_start appended)
#   initdb.log     initdb's output
#   pgpass         127.0.0.1:PORT:*:dmarq:PASSWORD (0600, invoking user)
#   server.pid     the postmaster's pid, while it runs
#   watchdog.pid   the watchdog's pid (= its process group), while it runs
#   tls/           CAs and server certificate of pg_enable_tls (0700)
#
# Functions (see each one below):
#   pg_start DIR        fresh cluster in DIR, started, database "dmarq" made
#   pg_create_db NAME   another empty database of the running cluster;
#                       prints its URL
#   pg_psql DB ARGS...  psql as dmarq on database DB over 127.0.0.1 (PGPASSFILE)
#   pg_enable_tls DIR [SAN]  TLS on, with a server certificate for IP:SAN
#                       (default 127.0.0.1) from a throwaway CA; exports
#                       PG_CA, and PG_OTHER_CA (a CA that did not sign it)
#   pg_stop DIR         stop it (fast shutdown, SIGKILL after 15 s) and make
#                       sure no process of DIR/data is left; idempotent
#   pg_procs DATA       pids of live processes of the cluster in DATA
# Variables exported by pg_start: PG_PORT, PG_DIR (DIR, absolute),
# PGPASSFILE (DIR/pgpass), PG_URL (postgresql://dmarq@127.0.0.1:PORT/dmarq,
# no password: libpq takes it from PGPASSFILE).
# Read when set: PG_BINDIR, the directory of initdb/postgres/pg_ctl
# (default /usr/lib/postgresql/15/bin, else the newest installed);
# PG_STOP_TIMEOUT, seconds pg_stop grants a fast shutdown (default 15).

# shellcheck source=../support/daemon.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/daemon.sh"

# _pg_bindir: the directory holding initdb, postgres and pg_ctl (Debian keeps
# them off PATH).
_pg_bindir() {
  local d
  if [[ -n "${PG_BINDIR:-}" ]]; then
    [[ -x "$PG_BINDIR/initdb" && -x "$PG_BINDIR/postgres" && -x "$PG_BINDIR/pg_ctl" ]] ||
      { echo "pg: PG_BINDIR=$PG_BINDIR holds no initdb, postgres and pg_ctl" >&2; return 1; }
    echo "$PG_BINDIR"
    return 0
  fi
  for d in /usr/lib/postgresql/15/bin $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
    [[ -x "$d/initdb" && -x "$d/postgres" && -x "$d/pg_ctl" ]] && { echo "$d"; return 0; }
  done
  echo "pg: no PostgreSQL server binaries (install postgresql, or set PG_BINDIR)" >&2
  return 1
}

# _pg_as CMD...: CMD as DAEMON_USER, from / (nobody may not be able to enter
# the caller's working directory, and initdb/postgres complain then).
_pg_as() {
  (cd / && exec "${DAEMON_AS[@]}" "$@")
}

# _pg_free_port: a TCP port free on 127.0.0.1, picked at random below the
# kernel's ephemeral range (ports the kernel hands out for port 0 are what
# the other servers of a parallel test run get, and what outgoing
# connections use). Bound without SO_REUSEADDR, so a port still in
# TIME_WAIT counts as taken.
_pg_free_port() {
  python3 - <<'EOF'
import random, socket
with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
    low, high = map(int, f.read().split())
lo, hi = (20000, low - 1) if low > 21000 else (max(high + 1, 20000), 65535)
for _ in range(50):
    port = random.randint(lo, hi)
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break
else:
    raise SystemExit("pg: no free port in %d-%d after 50 tries" % (lo, hi))
EOF
}

# pg_procs DATA: prints the pid of every live (non-zombie) process that
# belongs to the cluster in DATA: a postgres whose working directory is
# DATA (the postmaster chdirs there first thing and every backend inherits
# it), or a postgres, pg_ctl or initdb with DATA as an argument (-D DATA,
# --pgdata=DATA: also a postmaster not yet that far). Anything else (a
# shell someone left in DATA) is not the cluster's, and pg_stop leaves it
# alone. Only processes this user may inspect are seen: all of them as
# root, the own ones otherwise (which is whom the cluster runs as then).
pg_procs() {
  python3 - "$1" <<'EOF'
import os, sys
data = os.path.realpath(sys.argv[1])
names = {data.encode(), b"--pgdata=" + data.encode(), b"-D" + data.encode()}
me = {os.getpid(), os.getppid()}
for entry in os.listdir("/proc"):
    if not entry.isdigit() or int(entry) in me:
        continue
    try:
        with open(f"/proc/{entry}/stat", "rb") as f:
            state = f.read().rsplit(b") ", 1)[1].split()[0]
        if state in (b"Z", b"X"):
            continue
        exe = os.path.basename(os.readlink(f"/proc/{entry}/exe"))
        if not exe.startswith(("postgres", "pg_ctl", "initdb")):
            continue  # also "postgres (deleted)" after an upgrade
        cwd = os.readlink(f"/proc/{entry}/cwd")
        with open(f"/proc/{entry}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except (OSError, IndexError):
        continue  # gone meanwhile, a kernel thread, or not ours to look at
    if (cwd == data and exe.startswith("postgres")) or names.intersection(args):
        print(entry)
EOF
}

# _pg_pid_of DIR: the postmaster pid recorded for DIR (server.pid, else the
# first line of data/postmaster.pid for a start interrupted before
# server.pid was written), printed only while that pid is a live process of
# this cluster (not a recycled pid).
_pg_pid_of() {
  local dir=$1 pid="" procs
  if [[ -s "$dir/server.pid" ]]; then
    pid=$(head -n 1 "$dir/server.pid" 2>/dev/null || true)
  elif [[ -s "$dir/data/postmaster.pid" ]]; then
    pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
  fi
  [[ "$pid" =~ ^[0-9]+$ ]] && _pg_alive "$pid" || return 0
  # The whole list first: grep -q would close the pipe on pg_procs midway.
  procs=$(pg_procs "$dir/data")
  if grep -qx "$pid" <<<"$procs"; then
    echo "$pid"
  elif [[ $(_pg_ppid "$pid") == "$$" ]]; then
    # Right after pg_start forked it, our child is still on its way to
    # postgres (bash, setsid, setpriv, env).
    case $(readlink "/proc/$pid/exe" 2>/dev/null) in
      */setsid | */setpriv | */env | */bash) echo "$pid" ;;
    esac
  fi
}

# _pg_ppid PID: its parent's pid.
_pg_ppid() {
  local line
  local -a fields
  read -r line 2>/dev/null <"/proc/$1/stat" || return 0
  line=${line##*) }
  read -r -a fields <<<"$line"  # state ppid pgrp ...
  echo "${fields[1]}"
}

# _pg_kill_group PGID: SIGKILL to process group PGID, never to our own.
_pg_kill_group() {
  local line
  local -a fields
  read -r line </proc/$$/stat || return 0
  line=${line##*) }
  read -r -a fields <<<"$line"  # state ppid pgrp ...
  local own=${fields[2]}
  [[ -n "$1" && "$1" != "$own" && "$1" != 0 && "$1" != 1 ]] || return 0
  kill -KILL -- "-$1" 2>/dev/null || true
}

# _pg_kill_procs DATA: SIGKILL to every process of the cluster in DATA.
_pg_kill_procs() {
  local pid
  for pid in $(pg_procs "$1"); do kill -KILL "$pid" 2>/dev/null || true; done
}

# _pg_wait_gone DATA PGID SECS: until no process of the cluster in DATA and
# none of group PGID is alive; returns 1 when some still is after SECS.
_pg_wait_gone() {
  local deadline=$((SECONDS + $3))
  while { [[ -n "$2" ]] && process_group_alive "$2"; } || [[ -n "$(pg_procs "$1")" ]]; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# _pg_kill_watchdog DIR: stops DIR's watchdog, if one runs (checked by its
# name in the process list, so a recycled pid is left alone).
_pg_kill_watchdog() {
  local pid cmd
  pid=$(cat "$1/watchdog.pid" 2>/dev/null || true)
  rm -f "$1/watchdog.pid"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" || true)
  [[ "$cmd" != *dmarq-pg-watchdog* ]] || _pg_kill_group "$pid"
}

# _pg_start_watchdog DIR: a watchdog detached from this script's process
# tree (a test runner that kills the tree does not reach it): when this
# script is gone without pg_stop having run, it asks the postmaster for a
# fast shutdown, and 5 s later kills its process group and every postgres
# whose working directory is DIR/data. pg_stop ends it.
_pg_start_watchdog() {
  local dir=$1
  rm -f "$dir/watchdog.pid"
  # shellcheck disable=SC2016 # expanded by the watchdog's bash
  setsid -f bash -c '
    echo $$ >"$2/watchdog.pid"
    while kill -0 "$1" 2>/dev/null && [[ -f $2/watchdog.pid ]]; do sleep 1; done
    [[ -f $2/watchdog.pid ]] || exit 0
    pid=$(head -n 1 "$2/server.pid" 2>/dev/null) || exit 0
    [[ $pid =~ ^[0-9]+$ && $(readlink "/proc/$pid/cwd") == "$2/data" ]] || exit 0
    kill -INT "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null
    for p in /proc/[0-9]*; do
      [[ $(readlink "$p/cwd" 2>/dev/null) == "$2/data" &&
        $(readlink "$p/exe" 2>/dev/null) == */postgres* ]] && kill -KILL "${p#/proc/}" 2>/dev/null
    done
    exit 0' dmarq-pg-watchdog "$$" "$dir" \
    </dev/null >/dev/null 2>&1
  for _ in $(seq 100); do
    [[ -s "$dir/watchdog.pid" ]] && return 0
    sleep 0.01
  done
  echo "pg_start: warning: the watchdog did not report its pid" >&2
}

# _pg_alive PID: true while PID runs (a zombie counts as gone).
_pg_alive() {
  local line rest
  read -r line 2>/dev/null <"/proc/$1/stat" || return 1
  rest=${line##*) }
  [[ "${rest:0:1}" != Z && "${rest:0:1}" != X ]]
}

# _pg_log_tail DIR OFFSET: the server log from byte OFFSET on (what this
# start attempt logged), its last 40 lines.
_pg_log_tail() {
  tail -c "+$(($2 + 1))" "$1/postgres.log" 2>/dev/null | tail -n 40
}

# pg_psql DB ARGS...: psql as dmarq on database DB of the running cluster,
# over TCP to 127.0.0.1 (the password from PGPASSFILE), unaligned tuples
# only, stopping at the first error, never prompting. Connection settings
# from the environment that would send it elsewhere are dropped.
pg_psql() {
  [[ -n "${PG_PORT:-}" && -n "${PGPASSFILE:-}" ]] || { echo "pg_psql: no cluster started (pg_start)" >&2; return 1; }
  local db=$1
  shift
  env -u PGHOSTADDR -u PGSERVICE -u PGSERVICEFILE -u PGOPTIONS -u PGSSLMODE \
    PGGSSENCMODE=disable PGCONNECT_TIMEOUT=10 PGPASSFILE="$PGPASSFILE" \
    psql -X -w -q -A -t -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$PG_PORT" -U dmarq -d "$db" "$@" </dev/null
}

# pg_start DIR: a fresh cluster in DIR (created if needed, and made
# traversable for nobody when root; a cluster already there is stopped and
# removed first), started on 127.0.0.1 and a free high port, with database "dmarq" owned by the superuser dmarq. Waits until
# pg_isready succeeds (30 s; else prints the log and fails); tries another
# port when the chosen one was taken meanwhile (5 attempts). Exports PG_PORT,
# PG_DIR, PGPASSFILE, PG_URL (see the top of this file). Returns 1, with the
# reason on stderr, when anything fails; pg_stop DIR then cleans up whatever
# was started.
pg_start() {
  [[ $# -eq 1 && -n "$1" ]] || { echo "usage: pg_start DIR" >&2; return 2; }
  local dir bindir data run log pw attempt port pid off out ready sock deadline
  bindir=$(_pg_bindir) || return 1
  mkdir -p "$1" || return 1
  dir=$(cd "$1" && pwd -P) || return 1
  data=$dir/data run=$dir/run log=$dir/postgres.log
  daemon_identity

  # A fresh cluster every time: stop and remove one left here (also one
  # whose initdb was interrupted: initdb.log says pg_start made it), but
  # refuse to delete a data/ that is something else.
  if [[ -e "$data" ]]; then
    pg_stop "$dir" || return 1
    if [[ -f "$data/PG_VERSION" || -f "$dir/initdb.log" || -z "$(ls -A "$data" 2>/dev/null)" ]]; then
      rm -rf "$data" "$run"
    else
      echo "pg_start: $data exists and is not a PostgreSQL cluster; not touching it" >&2
      return 1
    fi
  fi
  rm -f "$dir/server.pid" "$dir/pgpass" "$dir/initdb.pw"

  # The server user must reach DIR (a mktemp -d directory is 0700 root's).
  if [[ $(id -u) == 0 ]]; then chmod go+x "$dir" || return 1; fi
  if ! _pg_as test -x "$dir"; then
    echo "pg_start: $DAEMON_USER cannot enter $dir (a parent directory is closed to it)" >&2
    return 1
  fi
  mkdir -m 700 "$data" "$run" || return 1
  : >>"$log"
  if [[ $(id -u) == 0 ]]; then chown "$DAEMON_USER:$DAEMON_GROUP" "$data" "$run" || return 1; fi
  # A unix socket path holds 107 bytes at most (sun_path).
  sock="$run/.s.PGSQL.65535"
  if ((${#sock} > 100)); then
    echo "pg_start: $dir is too long a path for the unix socket ($sock); use a shorter DIR" >&2
    return 1
  fi

  # 48 hex digits: nothing pgpass would need escaped (":" "\"). Written by
  # bash builtins only, so it never shows in a process list.
  pw=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
  [[ ${#pw} == 48 ]] || { echo "pg_start: could not make a password" >&2; return 1; }
  (umask 077 && printf '%s\n' "$pw" >"$dir/initdb.pw") || return 1
  if [[ $(id -u) == 0 ]]; then chown "$DAEMON_USER:$DAEMON_GROUP" "$dir/initdb.pw" || return 1; fi
  if ! _pg_as env LC_ALL=C "$bindir/initdb" -D "$data" -U dmarq -A scram-sha-256 \
    --pwfile="$dir/initdb.pw" --no-sync --no-instructions -E UTF8 --locale=C \
    </dev/null >"$dir/initdb.log" 2>&1; then
    rm -f "$dir/initdb.pw"
    echo "pg_start: initdb failed:" >&2
    tail -n 30 "$dir/initdb.log" >&2
    return 1
  fi
  rm -f "$dir/initdb.pw"

  # Password authentication for every connection; TCP from 127.0.0.1 only
  # (initdb's file also lets ::1 and replication in).
  cat >"$data/pg_hba.conf" <<'EOF' || return 1
# Generated by tests/pg/lib.sh: the private unix socket and 127.0.0.1 only,
# always with the password.
local all all               scram-sha-256
host  all all 127.0.0.1/32  scram-sha-256
EOF
  # Our settings live in a file of their own (rewritten with the port on
  # every attempt); postgresql.conf includes it last, so it wins.
  printf "\n# tests/pg/lib.sh\ninclude 'dmarq-test.conf'\n" >>"$data/postgresql.conf" || return 1

  ready=0
  for attempt in 1 2 3 4 5; do
    port=$(_pg_free_port) || return 1
    cat >"$data/dmarq-test.conf" <<EOF || return 1
# Generated by tests/pg/lib.sh for one test cluster.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$run'
unix_socket_permissions = 0700
max_connections = 100
ssl = off
password_encryption = 'scram-sha-256'
# Throwaway data: no durability.
fsync = off
synchronous_commit = off
full_page_writes = off
# stderr is DIR/postgres.log (pg_start redirects it).
logging_collector = off
log_destination = 'stderr'
log_line_prefix = '%m [%p] %q%u@%d '
log_connections = on
EOF
    if [[ $(id -u) == 0 ]]; then chown "$DAEMON_USER:$DAEMON_GROUP" "$data/dmarq-test.conf"; fi
    off=$(stat -c %s "$log")
    echo "--- pg_start: attempt $attempt, port $port, $(date -u +%FT%TZ)" >>"$log"
    # A session of its own: signals for the test's process group (Ctrl-C)
    # do not reach it, and pg_stop can kill its group without killing
    # ours. stdout/stderr to the log file, never a pipe (a command
    # substitution or the test runner would wait for it forever). Not
    # pg_ctl start: this way $! is the postmaster itself.
    (cd / && exec setsid "${DAEMON_AS[@]}" env LC_ALL=C "$bindir/postgres" -D "$data") \
      </dev/null >>"$log" 2>&1 &
    pid=$!
    # Not a job of this shell any more: bash would print "Killed" for it.
    disown "$pid"
    echo "$pid" >"$dir/server.pid"
    [[ $attempt == 1 ]] && _pg_start_watchdog "$dir"

    deadline=$((SECONDS + 30))
    while _pg_alive "$pid" && ((SECONDS < deadline)); do
      if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U dmarq -d postgres -t 2 </dev/null; then
        ready=1
        break
      fi
      sleep 0.1
    done
    ((ready)) && break
    out=$(_pg_log_tail "$dir" "$off")
    if _pg_alive "$pid"; then
      echo "pg_start: PostgreSQL does not accept connections on 127.0.0.1:$port after 30 s; log:" >&2
      echo "$out" >&2
      return 1  # pg_stop (the caller's trap) kills it
    fi
    rm -f "$dir/server.pid"
    if [[ "$out" != *"Address already in use"* ]]; then
      echo "pg_start: postgres exited during startup; log:" >&2
      echo "$out" >&2
      return 1
    fi
    echo "pg_start: port $port taken, retrying ($attempt)" >&2
  done
  if ((!ready)); then
    echo "pg_start: no free port after 5 attempts" >&2
    return 1
  fi

  # The password file libpq reads (PGPASSFILE): the invoking user's, 0600
  # (libpq ignores one that others can read).
  (umask 077 && printf '127.0.0.1:%s:*:dmarq:%s\n' "$port" "$pw" >"$dir/pgpass") || return 1
  chmod 600 "$dir/pgpass" || return 1
  export PG_PORT=$port PG_DIR=$dir PGPASSFILE=$dir/pgpass \
    PG_URL="postgresql://dmarq@127.0.0.1:$port/dmarq"
  if ! out=$(pg_psql postgres -c 'CREATE DATABASE dmarq OWNER dmarq' 2>&1); then
    echo "pg_start: cannot create database dmarq: $out" >&2
    return 1
  fi
}

# pg_create_db NAME: creates the empty database NAME (lower-case letters,
# digits, "_"; owned by dmarq; from template0, so that nobody connected to
# template1 can make it fail) in the running cluster and prints its URL,
# postgresql://dmarq@127.0.0.1:PORT/NAME.
pg_create_db() {
  [[ $# -eq 1 ]] || { echo "usage: pg_create_db NAME" >&2; return 2; }
  [[ "$1" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] ||
    { echo "pg_create_db: [$1] is not a plain lower-case name" >&2; return 2; }
  local out
  if ! out=$(pg_psql postgres -c "CREATE DATABASE $1 OWNER dmarq TEMPLATE template0" 2>&1); then
    echo "pg_create_db: $out" >&2
    return 1
  fi
  echo "postgresql://dmarq@127.0.0.1:$PG_PORT/$1"
}

# pg_stop DIR: stops the cluster in DIR: ends the watchdog, asks for a fast
# shutdown (pg_ctl stop -m fast as DAEMON_USER: open sessions are rolled
# back and closed), and when the cluster is not gone PG_STOP_TIMEOUT
# seconds (default 15) after that request, SIGKILL to the postmaster's
# process group and to every process of DIR/data. Returns 1 (saying which
# pids) only when some process of the cluster survives all that.
# Idempotent, quiet when nothing runs, and safe from an EXIT trap whatever
# state pg_start reached (also with no DIR at all).
pg_stop() {
  [[ $# -ge 1 && -n "$1" && -d "$1" ]] || return 0
  local dir data bindir pid left out limit t0 rest
  dir=$(cd "$1" && pwd -P) || return 0
  data=$dir/data
  limit=${PG_STOP_TIMEOUT:-15}
  daemon_identity
  _pg_kill_watchdog "$dir"
  pid=$(_pg_pid_of "$dir")
  if [[ -n "$pid" ]]; then
    t0=$SECONDS
    bindir=$(_pg_bindir 2>/dev/null) || bindir=""
    if [[ -n "$bindir" && -s "$data/postmaster.pid" ]]; then
      out=$(_pg_as "$bindir/pg_ctl" -D "$data" -m fast -w -t "$limit" stop </dev/null 2>&1) ||
        echo "pg_stop: pg_ctl stop: $out" >&2
    else
      kill -INT "$pid" 2>/dev/null || true  # too early for pg_ctl: SIGINT = fast shutdown
    fi
    # One deadline for pg_ctl and the backends' exit together.
    rest=$((limit - (SECONDS - t0)))
    ((rest >= 1)) || rest=1
    if ! _pg_wait_gone "$data" "$pid" "$rest"; then
      echo "pg_stop: PostgreSQL ($pid) did not stop within $limit s; killing it" >&2
      _pg_kill_group "$pid"
      _pg_kill_procs "$data"
      _pg_wait_gone "$data" "$pid" 5 || true
    fi
  fi
  # Whatever is left of the cluster (no pid on record, a backend that
  # outlived the postmaster): killed one by one.
  left=$(pg_procs "$data" | tr '\n' ' ')
  if [[ -n "${left// /}" ]]; then
    echo "pg_stop: killing leftover processes of $data: $left" >&2
    _pg_kill_procs "$data"
    if ! _pg_wait_gone "$data" "" 5; then
      echo "pg_stop: processes of $data still alive: $(pg_procs "$data" | tr '\n' ' ')" >&2
      return 1
    fi
  fi
  rm -f "$dir/server.pid"
}

# pg_enable_tls DIR [SAN]: TLS on for the running cluster of DIR, with a
# certificate for IP:SAN (default 127.0.0.1, also its CN) signed by a
# throwaway CA, and a second, unrelated CA for tests that must fail. Makes
# DIR/tls (the invoking user's, 0700): ca.pem + ca.key, other-ca.pem +
# other-ca.key (kept when already there, so clients keep trusting the
# server across calls), server.pem + server.key (new every call). The
# server gets copies in DIR/data (server.crt, server.key: DAEMON_USER's, the
# key 0600, or PostgreSQL refuses it) and its settings in
# data/dmarq-tls.conf, included after dmarq-test.conf (which says
# ssl = off), so they win. A reload applies them (a restart would change
# the postmaster pid that server.pid and the watchdog hold); it returns
# once the server presents the new certificate and a psql session with
# sslmode=require shows pg_stat_ssl.ssl = t. Exports PG_CA (DIR/tls/ca.pem)
# and PG_OTHER_CA (DIR/tls/other-ca.pem). Returns 1, with the reason (and
# the server log) on stderr, when anything fails.
pg_enable_tls() {
  [[ $# -ge 1 && $# -le 2 && -n "$1" ]] || { echo "usage: pg_enable_tls DIR [SAN]" >&2; return 2; }
  local dir tls data san=${2:-127.0.0.1} out name serial want got off deadline
  local -a owner=()
  [[ "$san" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] ||
    { echo "pg_enable_tls: SAN [$san] is not an IPv4 address" >&2; return 2; }
  dir=$(cd "$1" && pwd -P) || return 1
  tls=$dir/tls data=$dir/data
  if [[ "${PG_DIR:-}" != "$dir" || -z "$(_pg_pid_of "$dir")" ]]; then
    echo "pg_enable_tls: no cluster of $dir running (pg_start it first)" >&2
    return 1
  fi
  daemon_identity
  mkdir -p "$tls" && chmod 700 "$tls" || return 1

  # The CAs: self-signed, EC keys (instant to make, unlike RSA). Distinct
  # subjects, so a client trusting the other one fails on the chain
  # ("certificate verify failed"), not on some name clash.
  for name in ca other-ca; do
    [[ -s "$tls/$name.pem" && -s "$tls/$name.key" ]] && continue
    if ! out=$( (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout "$tls/$name.key" -out "$tls/$name.pem" -days 30 -subj "/CN=dmarq test $name $$" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign) 2>&1); then
      echo "pg_enable_tls: cannot make $name: $out" >&2
      return 1
    fi
  done

  # The server's certificate, checked against the CA and SAN before the
  # server gets it. A random serial: one CA issues one per call.
  serial=0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:$san" >"$tls/server.ext" || return 1
  if ! out=$( (umask 077 &&
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tls/server.key" \
      -out "$tls/server.csr" -subj "/CN=$san" &&
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -set_serial "$serial" \
      -days 30 -extfile "$tls/server.ext" -out "$tls/server.pem" &&
    openssl verify -CAfile "$tls/ca.pem" -verify_ip "$san" "$tls/server.pem") 2>&1); then
    echo "pg_enable_tls: cannot make the server certificate: $out" >&2
    return 1
  fi
  want=$(openssl x509 -in "$tls/server.pem" -noout -fingerprint -sha256) || return 1

  # Into the data directory, the server user's (PostgreSQL refuses a key
  # that is not its own with 0600, or root's with 0640).
  [[ $(id -u) != 0 ]] || owner=(-o "$DAEMON_USER" -g "$DAEMON_GROUP")
  install -m 644 "${owner[@]}" "$tls/server.pem" "$data/server.crt" || return 1
  install -m 600 "${owner[@]}" "$tls/server.key" "$data/server.key" || return 1
  printf '%s\n' "# Generated by pg_enable_tls (tests/pg/lib.sh)." "ssl = on" \
    "ssl_cert_file = '$data/server.crt'" "ssl_key_file = '$data/server.key'" \
    "ssl_min_protocol_version = 'TLSv1.2'" >"$data/dmarq-tls.conf" || return 1
  if [[ $(id -u) == 0 ]]; then chown "$DAEMON_USER:$DAEMON_GROUP" "$data/dmarq-tls.conf" || return 1; fi
  if ! grep -qx "include 'dmarq-tls.conf'" "$data/postgresql.conf"; then
    printf "include 'dmarq-tls.conf'\n" >>"$data/postgresql.conf" || return 1
  fi

  off=$(stat -c %s "$dir/postgres.log") || return 1
  if ! out=$(pg_psql postgres -c 'SELECT pg_reload_conf()' 2>&1) || [[ "$out" != t ]]; then
    echo "pg_enable_tls: reload failed: $out" >&2
    return 1
  fi
  # The reload is asynchronous (SIGHUP): wait until the server hands out
  # the new certificate. A bad key or setting keeps the old state and logs
  # why.
  deadline=$((SECONDS + 20))
  while :; do
    got=$(timeout 10 openssl s_client -starttls postgres -connect "127.0.0.1:$PG_PORT" </dev/null 2>/dev/null |
      openssl x509 -noout -fingerprint -sha256 2>/dev/null || true)
    [[ "$got" != "$want" ]] || break
    if ((SECONDS >= deadline)); then
      echo "pg_enable_tls: the server does not present the new certificate 20 s after the reload; log:" >&2
      _pg_log_tail "$dir" "$off" >&2
      return 1
    fi
    sleep 0.2
  done
  # sslrootcert given: require verifies against ~/.postgresql/root.crt
  # when there is one, and that CA did not sign this certificate.
  if ! out=$(pg_psql "dbname=postgres sslmode=require sslrootcert='$tls/ca.pem'" \
    -c 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()' 2>&1) || [[ "$out" != t ]]; then
    echo "pg_enable_tls: a session with sslmode=require is not encrypted: [$out]" >&2
    return 1
  fi
  export PG_CA=$tls/ca.pem PG_OTHER_CA=$tls/other-ca.pem
}
