#!/usr/bin/env bash
# PostgreSQL benchmark (not a test; issue 9). Starts a private cluster with
# tests/pg/lib.sh, then:
#  1. ingest throughput with 1, 2 and 4 concurrent `dmarq ingest` processes,
#     each on its own share of one generated corpus (MESSAGES report
#     e-mails), into a fresh database per run; the same corpus into SQLite
#     for comparison;
#  2. query times of `sources`, `readiness` and `trend` for one domain on a
#     larger database: the 1-process database copied SCALE times over with
#     shifted report dates and ids (INSERT ... SELECT), rollups included.
#
#   tools/bench/pg-bench.sh [BUILD_DIR] [WORK_DIR] [MESSAGES] [SCALE]
#   (defaults: build-rel, /tmp/dmarq-pg-bench, 1000, 30)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build-rel}" && pwd)
work=${2:-/tmp/dmarq-pg-bench}
messages=${3:-1000}
scale=${4:-30}
dmarq=$build/tools/dmarq/dmarq
gen=$build/tools/bench/dmarq-gen
[[ -x $dmarq && -x $gen ]] || { echo "pg-bench: build $build with DMARQ_BUILD_BENCH=ON first" >&2; exit 2; }
# shellcheck source=tests/pg/lib.sh
source "$root/tests/pg/lib.sh"

rm -rf "$work"
mkdir -p "$work"
trap 'pg_stop "$work/pg" >/dev/null 2>&1 || true' EXIT
pg_start "$work/pg"
"$gen" --out "$work/corpus" --messages "$messages" --seed 1 --quiet
records=$("$gen" --out "$work/count" --messages "$messages" --seed 1 --quiet 2>&1 | sed -n 's/.*records=\([0-9]*\).*/\1/p')
rm -rf "$work/count"
echo "== corpus: $messages messages, $records records"

# SQLite, for comparison.
cp -r "$work/corpus" "$work/m-sqlite"
s=$(date +%s.%N)
"$dmarq" --db "$work/ref.sqlite" ingest --no-progress --maildir "$work/m-sqlite"
e=$(date +%s.%N)
echo "sqlite, 1 process: $(awk -v s="$s" -v e="$e" -v r="$records" 'BEGIN { printf "%.1f s, %.0f records/s", e - s, r / (e - s) }')"

for n in 1 2 4; do
  url=$(pg_create_db "ingest$n")
  # Share i of n: every n-th message, so each process gets the same mix.
  for ((i = 0; i < n; i++)); do mkdir -p "$work/m$n-$i/new" "$work/m$n-$i/cur" "$work/m$n-$i/tmp"; done
  k=0
  for f in "$work"/corpus/new/*; do
    cp "$f" "$work/m$n-$((k % n))/new/"
    k=$((k + 1))
  done
  s=$(date +%s.%N)
  pids=()
  for ((i = 0; i < n; i++)); do
    /usr/bin/time -f "%M" -o "$work/rss$n-$i" "$dmarq" --db "$url" ingest --no-progress --maildir "$work/m$n-$i" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  e=$(date +%s.%N)
  rss=$(cat "$work"/rss$n-* | sort -n | tail -1)
  stored=$(pg_psql "ingest$n" -Atc "SELECT sum(record_count) FROM report")
  echo "postgresql, $n process(es): $(awk -v s="$s" -v e="$e" -v r="$records" \
    'BEGIN { printf "%.1f s, %.0f records/s", e - s, r / (e - s) }'), peak RSS ${rss} KB each at most, $stored records stored"
done

# 2. A larger database: ingest1 copied SCALE times, each copy 91 days
#    further back (the corpus spans 90), with new report ids, and monthly
#    partitions made for every month the copies reach. Each copy is its own
#    transaction, so a long scale-up shows progress and keeps what it made if
#    it is stopped. After the first copy it knows what one costs on disk,
#    and stops there when the disk cannot hold the rest.
echo "== scaling ingest1 by $scale"
cat >"$work/partitions.sql" <<SQL
DO \$\$
DECLARE lo bigint; mon timestamp;
BEGIN
  SELECT min(begin_ts) - ($scale - 1)::bigint * 91 * 86400 INTO lo FROM report;
  FOR mon IN SELECT generate_series(date_trunc('month', to_timestamp(lo) AT TIME ZONE 'UTC'),
                                    now() AT TIME ZONE 'UTC' - interval '25 months', interval '1 month') LOOP
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF record FOR VALUES FROM (%s) TO (%s)',
                   to_char(mon, '"record_"YYYY_MM'), extract(epoch FROM mon)::bigint,
                   extract(epoch FROM mon + interval '1 month')::bigint);
  END LOOP;
END \$\$;
SQL
m0=$(pg_psql ingest1 -Atc "SELECT max(id) FROM report")
d0=$(pg_psql ingest1 -Atc "SELECT min(day) FROM rollup_day")
s=$(date +%s.%N)
pg_psql ingest1 -f "$work/partitions.sql" >/dev/null
for ((k = 1; k < scale; k++)); do
  shift=$((k * 91 * 86400))
  cat >"$work/copy.sql" <<SQL
BEGIN;
INSERT INTO report (id, message_id, part, xml_namespace, version, org_name, email, extra_contact_info, report_id,
    generator, begin_ts, end_ts, policy_domain, adkim, aspf, p, sp, np, pct, fo, testing, discovery_method,
    has_extensions, record_count, message_count, evaluated_pass, quarantined, rejected)
  SELECT id + $k * $m0, message_id, part, xml_namespace, version, org_name, email, extra_contact_info,
    report_id || '-' || $k, generator, begin_ts - $shift, end_ts - $shift, policy_domain, adkim, aspf, p, sp, np,
    pct, fo, testing, discovery_method, has_extensions, record_count, message_count, evaluated_pass,
    quarantined, rejected FROM report WHERE id <= $m0;
INSERT INTO record SELECT begin_ts - $shift, report_id + $k * $m0, seq, source_ip, source_ip_raw, ip, count,
    disposition, dkim_eval, spf_eval, envelope_to, envelope_from, header_from, has_extensions, dkim, spf, reasons
  FROM record WHERE report_id <= $m0;
INSERT INTO rollup_day SELECT domain_id, day - $shift, fact_id, records, messages FROM rollup_day WHERE day >= $d0;
COMMIT;
SQL
  before=$(pg_psql ingest1 -Atc "SELECT pg_database_size('ingest1')")
  pg_psql ingest1 -f "$work/copy.sql" >/dev/null
  if ((k == 1)); then
    one=$(($(pg_psql ingest1 -Atc "SELECT pg_database_size('ingest1')") - before))
    need=$((one * (scale - 2) * 21 / 20))
    free=$(($(df --output=avail -B1 "$work" | tail -n 1)))
    if ((need > free)); then
      echo "pg-bench: $((scale - 2)) more copies of $((one >> 20)) MiB need about $((need >> 30)) GiB, $((free >> 30)) GiB are free" >&2
      exit 1
    fi
  fi
  if ((k % 25 == 0)); then
    echo "  copy $k of $((scale - 1)) after $(awk -v s="$s" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f s", e - s }')"
  fi
done
pg_psql ingest1 -c "SELECT setval('report_id_seq', (SELECT max(id) FROM report))" >/dev/null
pg_psql ingest1 -c "VACUUM ANALYZE" >/dev/null
e=$(date +%s.%N)
echo "scaled in $(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.0f s", e - s }')"
echo "== $(pg_psql ingest1 -Atc "SELECT count(*) FROM record") records, $(pg_psql ingest1 -Atc \
  "SELECT count(*) FROM rollup_day") fact-days, $(pg_psql ingest1 -Atc "SELECT pg_size_pretty(pg_database_size('ingest1'))")"
url=${PG_URL%/*}/ingest1
domain=domain007.example
last=$(pg_psql ingest1 -Atc "SELECT to_char(to_timestamp(max(end_ts)) AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM report")
first=$(pg_psql ingest1 -Atc "SELECT to_char(to_timestamp(max(end_ts)) AT TIME ZONE 'UTC' - interval '29 days', 'YYYY-MM-DD') FROM report")
for cmd in "sources --domain $domain --since $first --until $last" \
           "readiness --offline --domain $domain --since $first --until $last" \
           "trend --domain $domain --days 90 --until $last"; do
  # Three runs each: the first may find the pages on disk, the others in cache.
  for run in 1 2 3; do
    # shellcheck disable=SC2086
    /usr/bin/time -f "$cmd (run $run): %e s, %M KB" "$dmarq" --db "$url" $cmd >"$work/query.out"
  done
  echo "  ($(wc -l <"$work/query.out") lines of output)"
done
