#!/usr/bin/env bash
# pg: tls -- dmarq to PostgreSQL over TLS, against a real cluster with a
# throwaway CA (tests/pg/lib.sh, pg_enable_tls); all traffic on 127.0.0.1:
#  a. sslmode=verify-full with the CA that signed the server's certificate:
#     dmarq works, and the server logs every session of it as TLS;
#  b. psql with the same conninfo: pg_stat_ssl says TLS 1.2 or 1.3;
#  c. verify-full with a CA that did not sign it: refused, for the
#     certificate;
#  d. the server's certificate for IP 127.0.0.2 (never connected to):
#     verify-full to 127.0.0.1 refuses the mismatch, verify-ca with the same
#     CA accepts it (the name check is verify-full's);
#  e. a password in --db is refused, before any connection.
# Every refusal is checked for its reason, so a server that is down (or a
# wrong URL) does not pass for one.
# Usage: tls.sh DMARQ WORK_DIR (WORK_DIR is emptied first and kept, for the
# server log). Prints ok:/FAIL: per check; exits 1 when any failed.
set -euo pipefail
dmarq=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/pg/lib.sh
source "$here/lib.sh"
exec </dev/null  # nothing here may wait for a terminal

fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
t_start=$SECONDS

# A cluster left by a run that died must not hold the directory we empty.
pg_stop "$work/pg" >/dev/null 2>&1 || true
rm -rf "$work"
mkdir -p "$work/maildir/new" "$work/maildir/cur" "$work/maildir/tmp"
trap 'pg_stop "$work/pg"' EXIT
pg_start "$work/pg"
pg_enable_tls "$work/pg"
echo "    cluster on 127.0.0.1:$PG_PORT with TLS after $((SECONDS - t_start)) s"
log=$PG_DIR/postgres.log

# dmarq_run NAME URL ARGS...: dmarq --db URL ARGS..., with libpq's settings
# from the environment dropped (the URL alone decides how to connect; the
# password comes from PGPASSFILE); sets rc, out and err (also kept in
# WORK_DIR/NAME.out and .err).
dmarq_run() {
  local name=$1 url=$2
  shift 2
  set +e
  env -u PGSSLMODE -u PGREQUIRESSL -u PGSSLROOTCERT -u PGSSLCERT -u PGSSLKEY -u PGHOSTADDR \
    -u PGSERVICE -u PGSERVICEFILE -u PGPASSWORD -u DMARQ_DB PGGSSENCMODE=disable PGCONNECT_TIMEOUT=10 \
    "$dmarq" --db "$url" "$@" >"$work/$name.out" 2>"$work/$name.err"
  rc=$?
  set -e
  out=$(cat "$work/$name.out")
  err=$(cat "$work/$name.err")
}

# log_since OFFSET: what the server logged from byte OFFSET on.
log_since() { tail -c "+$(($1 + 1))" "$log"; }

full="$PG_URL?sslmode=verify-full&sslrootcert=$PG_CA"

# The schema (the first read-write command makes it), over TLS too.
dmarq_run ingest "$full" ingest --no-progress --maildir "$work/maildir"
if [[ $rc != 0 ]]; then
  bad "ingest of an empty Maildir (to make the schema): exit $rc, [$out] [$err]"
  exit 1
fi

# a. verify-full, the right CA; the server log says how each session of
# dmarq's was made (log_connections).
off=$(stat -c %s "$log")
dmarq_run verify-full "$full" reports
sessions=$(log_since "$off" | grep 'connection authorized: user=dmarq database=dmarq ' || true)
plain=$(grep -v 'SSL enabled (protocol=TLSv1\.[23],' <<<"$sessions" || true)
if [[ $rc == 0 && "$out" == "no reports" && -n "$sessions" && -z "$plain" ]]; then
  ok "verify-full with PG_CA: dmarq reports exits 0 ('$out'); its $(wc -l <<<"$sessions") session(s): ${sessions##*SSL enabled }"
else
  bad "verify-full with PG_CA: exit $rc, out [$out], err [$err]; sessions [$sessions]"
fi

# b. The same conninfo in psql: this session's TLS, from the server's side.
set +e
b=$(env -u PGSSLMODE -u PGSSLROOTCERT -u PGHOSTADDR -u PGSERVICE -u PGPASSWORD PGGSSENCMODE=disable \
  PGCONNECT_TIMEOUT=10 psql -X -w -A -t -v ON_ERROR_STOP=1 "$full" \
  -c "SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()" 2>&1)
rc=$?
set -e
if [[ $rc == 0 && "$b" =~ ^t\|TLSv1\.[23]\|[A-Z0-9_-]+$ ]]; then
  ok "psql with the same conninfo: pg_stat_ssl ssl|version|cipher = $b"
else
  bad "psql with the same conninfo: exit $rc, [$b]"
fi

# c. A CA that did not sign the server's certificate. The server log shows
# the handshake reached it and was broken off by the client.
off=$(stat -c %s "$log")
dmarq_run other-ca "$PG_URL?sslmode=verify-full&sslrootcert=$PG_OTHER_CA" reports
if [[ $rc == 2 && "$err" == "dmarq: "*"certificate verify failed"* && -z "$out" ]]; then
  ok "verify-full with PG_OTHER_CA: refused, exit 2: ${err#dmarq: }"
else
  bad "verify-full with PG_OTHER_CA: expected exit 2 and 'certificate verify failed', got exit $rc, out [$out], err [$err]"
fi
server_side=$(log_since "$off" | grep -E 'could not accept SSL connection|connection authorized' || true)
if [[ "$server_side" == *"could not accept SSL connection"* && "$server_side" != *"connection authorized"* ]]; then
  ok "the server saw that handshake fail: ${server_side#*LOG:  }"
else
  bad "server log for the PG_OTHER_CA attempt: [$server_side]"
fi

# d. A certificate for 127.0.0.2 (same CA), served on 127.0.0.1.
if pg_enable_tls "$PG_DIR" 127.0.0.2; then
  dmarq_run mismatch "$full" reports
  if [[ $rc == 2 && "$err" == "dmarq: "*'server certificate for "127.0.0.2" does not match host name "127.0.0.1"'* ]]; then
    ok "certificate for IP 127.0.0.2, verify-full to 127.0.0.1: refused, exit 2: ${err#dmarq: }"
  else
    bad "certificate for 127.0.0.2, verify-full: expected exit 2 and a host-name mismatch, got exit $rc, out [$out], err [$err]"
  fi
  dmarq_run verify-ca "$PG_URL?sslmode=verify-ca&sslrootcert=$PG_CA" reports
  if [[ $rc == 0 && "$out" == "no reports" ]]; then
    ok "certificate for IP 127.0.0.2, verify-ca with PG_CA: accepted, exit 0"
  else
    bad "certificate for 127.0.0.2, verify-ca: exit $rc, out [$out], err [$err]"
  fi
else
  bad "pg_enable_tls with SAN 127.0.0.2 failed (its reasons are above)"
fi

# e. A password in the URL: refused before libpq is asked to connect (the
# server sees no connection), and not repeated in the message.
off=$(stat -c %s "$log")
dmarq_run password "postgresql://dmarq:x@127.0.0.1:$PG_PORT/dmarq?sslmode=verify-full" reports
received=$(log_since "$off" | grep -c 'connection received' || true)
if [[ $rc == 2 && "$err" == "dmarq: "*"carries a password"* && "$err" != *"dmarq:x@"* && $received == 0 ]]; then
  ok "password in --db: refused, exit 2, no connection made: ${err#dmarq: }"
else
  bad "password in --db: exit $rc, err [$err], connections the server saw: $received"
fi
# The real password (from pgpass) in nothing dmarq printed.
pw=$(cut -d: -f5- "$PGPASSFILE")
leaks=$(grep -lF -f <(echo "$pw") "$work"/*.out "$work"/*.err 2>/dev/null || true)
if [[ ${#pw} == 48 && -z "$leaks" ]]; then
  ok "the password is in none of dmarq's output"
else
  bad "the password shows in [$leaks]"
fi

echo "    $((SECONDS - t_start)) s in all"
if ((fail)); then
  echo "tls: some check failed (server log: $log)"
  exit 1
fi
echo "tls: all checks passed"
