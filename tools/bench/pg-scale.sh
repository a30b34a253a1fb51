#!/usr/bin/env bash
# PostgreSQL scaling benchmark (not a test): what read replicas and writes
# partitioned by domain buy. Private clusters on 127.0.0.1 (tests/pg/lib.sh),
# one generated corpus (MESSAGES report e-mails over 20 domains):
#  1. read replicas: a primary with a streaming hot standby (pg_basebackup,
#     on another port). Four concurrent `dmarq ingest` into the primary,
#     each on a quarter of the corpus, with the replication lag sampled
#     every 0.2 s; wall time, records/s, the largest lag, how long the
#     standby needs after the ingest to have replayed it all, and the CPU
#     the primary's server, the standby and the dmarq processes spent (so:
#     how many records/s one server core takes). Then `sources`,
#     `readiness --offline`, `trend` and `reports --format csv` on the
#     primary and on the standby: identical output, and their times, idle
#     and while a second four-process ingest runs into the primary;
#  2. writes partitioned by domain: two independent clusters, domains
#     001-010 into A and 011-020 into B (two processes each, all at once),
#     against four processes into one cluster; the totals must agree.
#
#   tools/bench/pg-scale.sh [BUILD_DIR] [WORK_DIR] [MESSAGES]
#   (defaults: build-rel, /tmp/dmarq-pg-scale, 1000)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build-rel}" && pwd)
work=${2:-/tmp/dmarq-pg-scale}
messages=${3:-1000}
dmarq=$build/tools/dmarq/dmarq
gen=$build/tools/bench/dmarq-gen
[[ -x $dmarq && -x $gen ]] || { echo "pg-scale: build $build with DMARQ_BUILD_BENCH=ON first" >&2; exit 2; }
# shellcheck source=tests/pg/lib.sh
source "$root/tests/pg/lib.sh"
# The standby is made by hand, with the server binaries and the server user
# lib.sh uses for the primary (a standby must be the same major version).
bindir=$(_pg_bindir)
daemon_identity
tck=$(getconf CLK_TCK)
domain=domain007.example

rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd -P)
p=$work/primary sb=$work/standby ca=$work/a cb=$work/b
# Jobs first (a dmarq or the lag sampler left by a failure), then the
# clusters, the standby before its primary. pg_stop also stops the standby:
# its directory has lib.sh's layout (data/, run/, server.pid).
cleanup() {
  local j
  for j in $(jobs -p); do kill "$j" 2>/dev/null || true; done
  for j in "$sb" "$p" "$ca" "$cb"; do pg_stop "$j" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

checks=0 failed=0
ok() { checks=$((checks + 1)); echo "  ok: $*"; }
bad() { checks=$((checks + 1)) failed=$((failed + 1)); echo "  FAIL: $*"; }
now() { date +%s.%N; }
# calc EXPR VAR=VALUE...: an awk expression, printed with one decimal (or
# the printf format of FMT= when given).
calc() {
  local expr=$1 fmt=%.1f
  shift
  local -a vars=()
  while (($#)); do
    case $1 in FMT=*) fmt=${1#FMT=} ;; *) vars+=(-v "$1") ;; esac
    shift
  done
  awk "${vars[@]}" "BEGIN { printf \"$fmt\", ($expr) }"
}

# One pgpass for every cluster: lib.sh exports PGPASSFILE (and PG_PORT,
# PG_URL) per pg_start, so a second pg_start would hide the first one's
# password from the dmarq processes, which talk to several clusters at once.
pgpass=$work/pgpass
(umask 077 && : >"$pgpass")
start_cluster() {
  pg_start "$1"
  cat "$PGPASSFILE" >>"$pgpass"
  export PGPASSFILE=$pgpass
}

# cpu_ticks PID: clock ticks spent by the postmaster PID and its processes:
# its own and its reaped children's (utime, stime, cutime, cstime), plus
# those of its live children (backends, walsender, WAL writer ...).
stat_fields() {
  local line
  read -r line 2>/dev/null <"/proc/$1/stat" || return 1
  line=${line##*) }
  read -r -a fields <<<"$line"  # fields[0] is stat field 3 (state)
}
cpu_ticks() {
  local t c
  local -a fields
  stat_fields "$1"
  t=$((fields[11] + fields[12] + fields[13] + fields[14]))
  for c in $(ps --ppid "$1" -o pid=); do
    stat_fields "$c" && t=$((t + fields[11] + fields[12]))
  done
  echo "$t"
}
postmaster() { head -n 1 "$1/data/postmaster.pid"; }

# deal PREFIX N: the messages named on stdin dealt round-robin into the
# Maildirs PREFIX-0 ... PREFIX-(N-1), so that each share gets the same mix.
deal() {
  local i
  rm -f "$1".*.list
  awk -v p="$1" -v n="$2" '{ print > (p "." ((NR - 1) % n) ".list") }'
  for ((i = 0; i < $2; i++)); do
    mkdir -p "$1-$i/new" "$1-$i/cur" "$1-$i/tmp"
    if [[ -s "$1.$i.list" ]]; then xargs -d '\n' cp -t "$1-$i/new" <"$1.$i.list"; fi
  done
}

# start_ingest TAG URL DIR [URL DIR ...]: one `dmarq ingest` per Maildir
# DIR into URL, all at once, each timed by /usr/bin/time (TAG.N.time).
start_ingest() {
  local tag=$1 n=0
  shift
  ingest_pids=() ingest_tag=$tag
  while (($#)); do
    /usr/bin/time -f '%e %U %S' -o "$work/$tag.$n.time" \
      "$dmarq" --db "$1" ingest --no-progress --offline --maildir "$2" >"$work/$tag.$n.log" 2>&1 &
    ingest_pids+=($!)
    n=$((n + 1))
    shift 2
  done
}
# ingest_running: true while one of them has not exited.
ingest_running() {
  local j
  local -a fields
  for j in "${ingest_pids[@]}"; do
    stat_fields "$j" && [[ ${fields[0]} != Z ]] && return 0
  done
  return 1
}
# finish_ingest: waits for them (exits on a failure, with its output); sets
# wall (start to the last exit, from their elapsed times) and dmarq_cpu.
finish_ingest() {
  local j n=0 rc
  for j in "${ingest_pids[@]}"; do
    rc=0
    wait "$j" || rc=$?
    if ((rc != 0)); then
      echo "pg-scale: dmarq ingest ($ingest_tag.$n) exited $rc:" >&2
      tail -n 20 "$work/$ingest_tag.$n.log" "$work/$ingest_tag.$n.time" >&2
      exit 1
    fi
    n=$((n + 1))
  done
  wall=$(tail -q -n 1 "$work/$ingest_tag".*.time | awk '$1 > m { m = $1 } END { printf "%.2f", m }')
  dmarq_cpu=$(tail -q -n 1 "$work/$ingest_tag".*.time | awk '{ s += $2 + $3 } END { printf "%.2f", s }')
}
rate() { calc "r / w" r="$records" w="$1" FMT=%.0f; }

# read_on URL OUT ARGS...: a dmarq read command, stdout to OUT, stderr to
# OUT.err; sets took (seconds) and rc.
read_on() {
  local url=$1 out=$2 s
  shift 2
  s=$(now)
  rc=0
  "$dmarq" --db "$url" "$@" >"$out" 2>"$out.err" || rc=$?
  took=$(calc "e - s" s="$s" e="$(now)" FMT=%.3f)
}
# same NAME A B RC_A RC_B: ok when both exited 0 with the same bytes; a
# failure shows what each side said.
same() {
  local name=$1 a=$2 b=$3
  if [[ $4 == 0 && $5 == 0 ]] && cmp -s "$a" "$b"; then
    ok "$name: identical ($(wc -l <"$a") lines)"
  else
    bad "$name: primary exit $4, standby exit $5, outputs $(cmp -s "$a" "$b" && echo equal || echo differ)"
    [[ $4 == 0 ]] || sed 's/^/    primary: /' "$a.err" | head -n 5
    [[ $5 == 0 ]] || sed 's/^/    standby: /' "$b.err" | head -n 5
  fi
}

summary=$("$gen" --out "$work/corpus" --messages "$messages" --seed 1 --domains 20 --quiet 2>&1)
records=$(sed -n 's/.*records=\([0-9]*\).*/\1/p' <<<"$summary")
[[ -n $records ]] || { echo "pg-scale: dmarq-gen said: $summary" >&2; exit 1; }
find "$work/corpus/new" -type f | sort >"$work/all.list"
echo "== corpus: $messages messages, $records records, 20 domains"

# ---------------------------------------------------------------- part 1
start_cluster "$p"
p_port=$PG_PORT
on_p() { PG_PORT=$p_port "$@"; }
[[ $(on_p pg_psql postgres -c 'SHOW wal_level') != minimal && $(on_p pg_psql postgres -c 'SHOW max_wal_senders') -gt 0 ]] ||
  { echo "pg-scale: the primary cannot stream WAL (wal_level, max_wal_senders)" >&2; exit 1; }
# lib.sh's pg_hba.conf lets no replication connection in ("all" does not
# cover them): one for the superuser from 127.0.0.1, with the password.
printf 'host  replication dmarq 127.0.0.1/32  scram-sha-256\n' >>"$p/data/pg_hba.conf"
on_p pg_psql postgres -c 'SELECT pg_reload_conf()' >/dev/null

# The standby, laid out like a lib.sh cluster so that pg_stop and lib.sh's
# watchdog handle it too. Its password file is the server user's: the
# walreceiver reads it for as long as the standby runs (-R writes passfile=
# into primary_conninfo). A replication slot keeps the primary from
# recycling WAL the standby has not received yet, however far it falls
# behind.
mkdir -p "$sb"
mkdir -m 700 "$sb/data" "$sb/run"
: >"$sb/postgres.log"
(umask 077 && grep "^127.0.0.1:$p_port:" "$pgpass" >"$sb/replpass")
if [[ $(id -u) == 0 ]]; then
  chmod go+x "$sb"
  chown "$DAEMON_USER:$DAEMON_GROUP" "$sb/data" "$sb/run" "$sb/postgres.log" "$sb/replpass"
fi
# The reload is asynchronous: retry while the server may not have read it.
for attempt in 1 2 3 4 5; do
  if out=$(_pg_as env LC_ALL=C "$bindir/pg_basebackup" -D "$sb/data" -R -X stream -C -S dmarq_scale \
    -c fast --no-sync -w -d "host=127.0.0.1 port=$p_port user=dmarq passfile=$sb/replpass" 2>&1 </dev/null); then
    break
  fi
  ((attempt < 5)) || { echo "pg-scale: pg_basebackup failed: $out" >&2; exit 1; }
  sleep 0.5
done
s_port=$(_pg_free_port)
# The primary's settings (dmarq-test.conf, copied) name its port and socket
# directory; the command line overrides them.
if ! out=$(_pg_as env LC_ALL=C "$bindir/pg_ctl" -D "$sb/data" -l "$sb/postgres.log" -w -t 60 \
  -o "-c port=$s_port -c listen_addresses=127.0.0.1 -c unix_socket_directories='$sb/run' -c hot_standby=on" \
  start 2>&1 </dev/null); then
  echo "pg-scale: the standby did not start: $out" >&2
  tail -n 30 "$sb/postgres.log" >&2
  exit 1
fi
postmaster "$sb" >"$sb/server.pid"
_pg_start_watchdog "$sb"
line=$(grep "^127.0.0.1:$p_port:" "$pgpass")
printf '%s\n' "127.0.0.1:$s_port:${line#127.0.0.1:"$p_port":}" >>"$pgpass"
on_s() { PG_PORT=$s_port "$@"; }
for _ in $(seq 150); do
  [[ $(on_p pg_psql postgres -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == 1 ]] && break
  sleep 0.2
done
[[ $(on_p pg_psql postgres -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == 1 ]] ||
  { echo "pg-scale: the standby does not stream 30 s after its start" >&2; tail -n 30 "$sb/postgres.log" >&2; exit 1; }
[[ $(on_s pg_psql postgres -c 'SELECT pg_is_in_recovery()') == t ]] ||
  { echo "pg-scale: the standby is not in recovery" >&2; exit 1; }
echo "== primary on 127.0.0.1:$p_port, hot standby on 127.0.0.1:$s_port (streaming, slot dmarq_scale)"

# Ingest 1, with the lag sampled by one psql session fed through a FIFO (a
# connection per sample would cost the server more than the sampling
# shows). The lag is the primary's view: what the standby last reported.
url1=$(on_p pg_create_db ingest1)
surl1=postgresql://dmarq@127.0.0.1:$s_port/ingest1
deal "$work/m1" 4 <"$work/all.list"
mkfifo "$work/lag.fifo"
rm -f "$work/lag.stop"
on_p pg_psql postgres -F ' ' -f "$work/lag.fifo" >"$work/lag.out" &
lag_reader=$!
lag_sql="SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), replay_lsn)), 0)::bigint,
  coalesce(round(max(extract(epoch FROM replay_lag)), 3), 0) FROM pg_stat_replication;"
(
  exec 3>"$work/lag.fifo"
  while [[ ! -e $work/lag.stop ]]; do
    printf '%s\n' "$lag_sql" >&3
    sleep 0.2
  done
) &
lag_writer=$!
p_pm=$(postmaster "$p") s_pm=$(postmaster "$sb")
p0=$(cpu_ticks "$p_pm") s0=$(cpu_ticks "$s_pm")
start_ingest i1 "$url1" "$work/m1-0" "$url1" "$work/m1-1" "$url1" "$work/m1-2" "$url1" "$work/m1-3"
finish_ingest
ended=$(now)
p1=$(cpu_ticks "$p_pm") s1=$(cpu_ticks "$s_pm")
touch "$work/lag.stop"
wait "$lag_writer" || true
wait "$lag_reader" || { echo "pg-scale: the lag sampler failed" >&2; exit 1; }
# Caught up: the standby has replayed the primary's WAL up to where it was
# when the ingest ended (asked of the standby itself: the primary's
# replay_lsn only moves when the standby reports, every 10 s when idle).
# The insert position, not pg_current_wal_lsn(): with synchronous_commit
# off (lib.sh) the last commits may still sit in WAL buffers, past the
# write position, and the standby gets them only once the WAL writer writes.
target=$(on_p pg_psql postgres -c 'SELECT pg_current_wal_insert_lsn()')
caught=""
for _ in $(seq 3000); do
  if [[ $(on_s pg_psql postgres -c "SELECT pg_wal_lsn_diff('$target', pg_last_wal_replay_lsn()) <= 0") == t ]]; then
    caught=$(calc "e - s" s="$ended" e="$(now)" FMT=%.2f)
    break
  fi
  sleep 0.1
done
[[ -n $caught ]] || { echo "pg-scale: the standby has not replayed $target 300 s after the ingest" >&2; exit 1; }
i1_wall=$wall i1_rate=$(rate "$wall") i1_dmarq=$dmarq_cpu
i1_pcpu=$(calc "(b - a) / t" a="$p0" b="$p1" t="$tck" FMT=%.2f)
i1_scpu=$(calc "(b - a) / t" a="$s0" b="$s1" t="$tck" FMT=%.2f)
read -r lag_bytes lag_secs samples < <(awk 'NF == 2 { n++; if ($1 > b) b = $1; if ($2 > s) s = $2 }
  END { printf "%d %.3f %d\n", b, s, n }' "$work/lag.out")
i1_per100k=$(calc "c / r * 100000" c="$i1_pcpu" r="$records" FMT=%.2f)
i1_core=$(calc "c > 0 ? r / c : 0" c="$i1_pcpu" r="$records" FMT=%.0f)
stored=$(on_p pg_psql ingest1 -c 'SELECT sum(record_count) FROM report')
echo "ingest into the primary, 4 processes: $i1_wall s, $i1_rate records/s"
echo "  replication lag: max $lag_bytes bytes, max ${lag_secs} s ($samples samples); standby caught up ${caught} s after the ingest"
echo "  CPU: primary server $i1_pcpu s, standby $i1_scpu s, dmarq $i1_dmarq s"
echo "  primary server CPU per 100,000 records: $i1_per100k s, so one server core takes ~$i1_core records/s"
if [[ $stored == "$records" ]]; then ok "stored $stored records"; else bad "stored $stored records, the corpus has $records"; fi
if [[ $(on_s pg_psql ingest1 -c 'SELECT sum(record_count) FROM report') == "$records" ]]; then
  ok "the standby has them all"
else
  bad "the standby does not have all $records records"
fi

# Reads, on both. The window: the 30 days up to the last report's end.
last=$(on_p pg_psql ingest1 -c "SELECT to_char(to_timestamp(max(end_ts)) AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM report")
first=$(on_p pg_psql ingest1 -c "SELECT to_char(to_timestamp(max(end_ts)) AT TIME ZONE 'UTC' - interval '29 days', 'YYYY-MM-DD') FROM report")
names=(sources readiness trend reports)
cmds=("sources --domain $domain --since $first --until $last"
  "readiness --offline --domain $domain --since $first --until $last"
  "trend --domain $domain --days 90 --until $last"
  "reports --format csv")
declare -A idle_p idle_s busy_p busy_s busy_n
echo "== reads on primary and standby ($domain, $first .. $last), idle"
for k in "${!names[@]}"; do
  n=${names[$k]}
  # shellcheck disable=SC2086 # the command's words
  read_on "$url1" "$work/idle-p-$n" ${cmds[$k]}
  rc_p=$rc idle_p[$n]=$took
  # shellcheck disable=SC2086
  read_on "$surl1" "$work/idle-s-$n" ${cmds[$k]}
  rc_s=$rc idle_s[$n]=$took
  printf '  %-10s primary %s s, standby %s s\n' "$n" "${idle_p[$n]}" "${idle_s[$n]}"
  same "$n" "$work/idle-p-$n" "$work/idle-s-$n" "$rc_p" "$rc_s"
done

# The same reads during a second four-process ingest into the primary (a
# database of its own, so ingest1 and the answers stay the same), in
# rounds for as long as it runs, alternating which side goes first.
url2=$(on_p pg_create_db ingest2)
deal "$work/m2" 4 <"$work/all.list"
echo "== the same reads during a second 4-process ingest into the primary"
for n in "${names[@]}"; do busy_p[$n]=0 busy_s[$n]=0 busy_n[$n]=0; done
start_ingest i2 "$url2" "$work/m2-0" "$url2" "$work/m2-1" "$url2" "$work/m2-2" "$url2" "$work/m2-3"
round=0 late=0 busy_bad=0
while ((round == 0)) || ingest_running; do
  for k in 0 1 2; do
    n=${names[$k]}
    if (((round + k) % 2 == 0)); then order=(s p); else order=(p s); fi
    for side in "${order[@]}"; do
      if [[ $side == p ]]; then u=$url1; else u=$surl1; fi
      # shellcheck disable=SC2086
      read_on "$u" "$work/busy-$side-$n" ${cmds[$k]}
      if [[ $side == p ]]; then
        rc_p=$rc busy_p[$n]=$(calc "a + b" a="${busy_p[$n]}" b="$took" FMT=%.3f)
      else
        rc_s=$rc busy_s[$n]=$(calc "a + b" a="${busy_s[$n]}" b="$took" FMT=%.3f)
      fi
    done
    busy_n[$n]=$((busy_n[$n] + 1))
    # Both must still say what they said idle (ingest1 does not change).
    if ((rc_p != 0 || rc_s != 0)) || ! cmp -s "$work/busy-p-$n" "$work/idle-p-$n" ||
      ! cmp -s "$work/busy-s-$n" "$work/idle-p-$n"; then
      busy_bad=$((busy_bad + 1))
      bad "$n, round $((round + 1)) during the ingest: primary exit $rc_p, standby exit $rc_s, or output changed"
      [[ $rc_p == 0 ]] || sed 's/^/    primary: /' "$work/busy-p-$n.err" | head -n 5
      [[ $rc_s == 0 ]] || sed 's/^/    standby: /' "$work/busy-s-$n.err" | head -n 5
    fi
  done
  ingest_running || late=1
  round=$((round + 1))
done
finish_ingest
i2_wall=$wall i2_rate=$(rate "$wall")
echo "  ingest: $i2_wall s, $i2_rate records/s; $round round(s) of reads$( ((late)) && echo ", the last one ending after the ingest")"
for n in sources readiness trend; do
  busy_p[$n]=$(calc "t / c" t="${busy_p[$n]}" c="${busy_n[$n]}" FMT=%.3f)
  busy_s[$n]=$(calc "t / c" t="${busy_s[$n]}" c="${busy_n[$n]}" FMT=%.3f)
  printf '  %-10s primary %s s, standby %s s (mean of %d)\n' "$n" "${busy_p[$n]}" "${busy_s[$n]}" "${busy_n[$n]}"
done
((busy_bad > 0)) || ok "reads during the ingest: $round round(s), all as when idle, on both"
stored=$(on_p pg_psql ingest2 -c 'SELECT sum(record_count) FROM report')
if [[ $stored == "$records" ]]; then ok "second ingest stored $stored records"; else bad "second ingest stored $stored records, not $records"; fi
conflicts=$(on_s pg_psql postgres -c "SELECT coalesce(sum(confl_tablespace + confl_lock + confl_snapshot + confl_bufferpin + confl_deadlock), 0) FROM pg_stat_database_conflicts")
echo "  standby queries cancelled by recovery conflicts: $conflicts"

# ---------------------------------------------------------------- part 2
# The replication pair is done with: stopped, so that it takes no CPU or
# memory from the clusters measured now.
pg_stop "$sb" >/dev/null
pg_stop "$p" >/dev/null
start_cluster "$ca"
a_port=$PG_PORT
start_cluster "$cb"
b_port=$PG_PORT
on_a() { PG_PORT=$a_port "$@"; }
on_b() { PG_PORT=$b_port "$@"; }

# The policy domain of a message: its Subject ("Report Domain: D ..."),
# readable whatever the attachment (xml, gzip, zip) is.
grep -r -m 1 -H '^Subject: Report Domain: domain[0-9]*\.example' "$work/corpus/new" |
  sed -n 's/^\(.*\):Subject: Report Domain: domain0*\([0-9][0-9]*\)\.example.*/\2 \1/p' >"$work/domains"
awk -v a="$work/a.list" -v b="$work/b.list" '$1 >= 1 && $1 <= 10 { print $2 > a; next }
  $1 >= 11 && $1 <= 20 { print $2 > b; next } { print "pg-scale: domain " $1 " in " $2 > "/dev/stderr"; exit 1 }' "$work/domains"
touch "$work/a.list" "$work/b.list"
na=$(wc -l <"$work/a.list") nb=$(wc -l <"$work/b.list")
((na + nb == messages)) || { echo "pg-scale: $((na + nb)) of $messages messages have a Report Domain subject" >&2; exit 1; }
echo "== writes partitioned by domain: 001-010 ($na messages) into cluster A (127.0.0.1:$a_port), 011-020 ($nb) into B (127.0.0.1:$b_port)"
urla=$(on_a pg_create_db split) urlb=$(on_b pg_create_db split)
sort "$work/a.list" | deal "$work/ma" 2
sort "$work/b.list" | deal "$work/mb" 2
a_pm=$(postmaster "$ca") b_pm=$(postmaster "$cb")
a0=$(cpu_ticks "$a_pm") b0=$(cpu_ticks "$b_pm")
start_ingest split "$urla" "$work/ma-0" "$urla" "$work/ma-1" "$urlb" "$work/mb-0" "$urlb" "$work/mb-1"
finish_ingest
a1=$(cpu_ticks "$a_pm") b1=$(cpu_ticks "$b_pm")
sp_wall=$wall sp_rate=$(rate "$wall") sp_dmarq=$dmarq_cpu
sp_acpu=$(calc "(y - x) / t" x="$a0" y="$a1" t="$tck" FMT=%.2f)
sp_bcpu=$(calc "(y - x) / t" x="$b0" y="$b1" t="$tck" FMT=%.2f)
ra=$(on_a pg_psql split -c 'SELECT coalesce(sum(record_count), 0) FROM report')
rb=$(on_b pg_psql split -c 'SELECT coalesce(sum(record_count), 0) FROM report')
echo "2 clusters x 2 processes: $sp_wall s, $sp_rate records/s ($ra records in A, $rb in B)"
sp_per100k=$(calc "(a + b) / r * 100000" a="$sp_acpu" b="$sp_bcpu" r="$records" FMT=%.2f)
echo "  CPU: server A $sp_acpu s, server B $sp_bcpu s ($sp_per100k s per 100,000 records), dmarq $sp_dmarq s"
if [[ $(on_a pg_psql split -c "SELECT count(*) FROM report WHERE policy_domain > 'domain010.example'") == 0 &&
  $(on_b pg_psql split -c "SELECT count(*) FROM report WHERE policy_domain <= 'domain010.example'") == 0 ]]; then
  ok "each cluster holds only its domains"
else
  bad "a cluster holds reports of the other's domains"
fi
if [[ $((ra + rb)) == "$records" ]]; then ok "A + B = $((ra + rb)) records"; else bad "A + B = $((ra + rb)) records, the corpus has $records"; fi

# The same corpus, four processes into one cluster: a fresh database of A.
url1c=$(on_a pg_create_db single)
deal "$work/ms" 4 <"$work/all.list"
a0=$(cpu_ticks "$a_pm")
start_ingest single "$url1c" "$work/ms-0" "$url1c" "$work/ms-1" "$url1c" "$work/ms-2" "$url1c" "$work/ms-3"
finish_ingest
a1=$(cpu_ticks "$a_pm")
one_wall=$wall one_rate=$(rate "$wall") one_dmarq=$dmarq_cpu
one_cpu=$(calc "(y - x) / t" x="$a0" y="$a1" t="$tck" FMT=%.2f)
r1=$(on_a pg_psql single -c 'SELECT coalesce(sum(record_count), 0) FROM report')
echo "1 cluster x 4 processes (no standby): $one_wall s, $one_rate records/s"
one_per100k=$(calc "c / r * 100000" c="$one_cpu" r="$records" FMT=%.2f)
one_core=$(calc "c > 0 ? r / c : 0" c="$one_cpu" r="$records" FMT=%.0f)
echo "  CPU: server $one_cpu s ($one_per100k s per 100,000 records, ~$one_core records/s per server core), dmarq $one_dmarq s"
if [[ $r1 == "$records" && $((ra + rb)) == "$r1" ]]; then
  ok "one cluster = A + B = $r1 records"
else
  bad "one cluster has $r1 records, A + B $((ra + rb)), the corpus $records"
fi

echo "== summary: $messages messages, $records records"
echo "  primary + hot standby, 4 processes:  $i1_wall s, $i1_rate records/s; lag max $lag_bytes bytes / $lag_secs s; standby caught up $caught s after"
echo "    CPU: primary $i1_pcpu s ($i1_per100k s per 100,000 records, ~$i1_core records/s per server core), standby $i1_scpu s, dmarq $i1_dmarq s"
printf '    %-10s idle: primary %s s, standby %s s; during an ingest: primary %s s, standby %s s\n' \
  sources "${idle_p[sources]}" "${idle_s[sources]}" "${busy_p[sources]}" "${busy_s[sources]}" \
  readiness "${idle_p[readiness]}" "${idle_s[readiness]}" "${busy_p[readiness]}" "${busy_s[readiness]}" \
  trend "${idle_p[trend]}" "${idle_s[trend]}" "${busy_p[trend]}" "${busy_s[trend]}"
printf '    %-10s idle: primary %s s, standby %s s\n' reports "${idle_p[reports]}" "${idle_s[reports]}"
echo "    second ingest (reads running against both meanwhile): $i2_wall s, $i2_rate records/s"
echo "  2 clusters by domain, 2 processes each: $sp_wall s, $sp_rate records/s; server CPU A $sp_acpu s, B $sp_bcpu s ($sp_per100k s per 100,000 records); dmarq $sp_dmarq s"
echo "  1 cluster, 4 processes:                $one_wall s, $one_rate records/s; server CPU $one_cpu s ($one_per100k s per 100,000 records); dmarq $one_dmarq s"
echo "  checks: $((checks - failed)) ok, $failed FAIL"
((failed == 0))
