#!/usr/bin/env bash
# HTML report benchmark (not a test). Builds, once, a database of about ten
# million generated aggregate records over 90 days (dmarq-gen: 1,850 reports
# of 3,000 to 9,000 records for 20 domains; kept in WORK_DIR for later runs),
# then times `dmarq html` over every domain and the whole 90 days, RUNS
# times, and reports the wall time, peak RSS and file size against the
# issue's targets: under 3 s and under 2 MB. Also times `readiness` and
# `trend` of one domain, which read the same rollups.
#
#   tools/bench/html-bench.sh [BUILD_DIR] [WORK_DIR] [RUNS]
#   (defaults: build-rel, /tmp/dmarq-html-bench, 3; BUILD_DIR needs
#   tools/dmarq/dmarq and tools/bench/dmarq-gen)
# Exits 1 when a figure misses its target.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build-rel}" && pwd)
work=${2:-/tmp/dmarq-html-bench}
runs=${3:-3}
dmarq=$build/tools/dmarq/dmarq
gen=$build/tools/bench/dmarq-gen
[[ -x $dmarq && -x $gen ]] || { echo "html-bench: build $build with DMARQ_BUILD_BENCH=ON first" >&2; exit 2; }
mkdir -p "$work"
db=$work/bench.sqlite
period=(--offline --since 2026-08-03 --until 2026-10-31)

if [[ ! -f $db ]]; then
  echo "== generating the corpus in $work/maildir (once)"
  rm -rf "$work/maildir"
  "$gen" --out "$work/maildir" --messages 1850 --domains 20 --days 90 --min-records 3000 --max-records 9000 \
    --seed 1 --quiet
  echo "== ingesting it (with rollups)"
  /usr/bin/time -f "ingest: %e s wall, %M KB peak RSS" "$dmarq" --db "$db.tmp" ingest --maildir "$work/maildir"
  mv "$db.tmp" "$db"
  for f in "$db.tmp"-wal "$db.tmp"-shm; do [[ -e $f ]] && mv "$f" "${db}${f#"$db.tmp"}"; done
  rm -rf "$work/maildir"
fi
# A database kept from an older dmarq is migrated first (and timed).
mkdir -p "$work/empty/new" "$work/empty/cur" "$work/empty/tmp"
/usr/bin/time -f "open for writing (migrates an older schema): %e s, %M KB" \
  "$dmarq" --db "$db" ingest --maildir "$work/empty"
echo "== the database: $(sqlite3 "$db" 'SELECT count(*) FROM record') records, $(sqlite3 "$db" \
  'SELECT count(*) FROM rollup_fact') facts, $(sqlite3 "$db" 'SELECT count(*) FROM rollup_span') fact-spans"

times=()
for ((i = 1; i <= runs; i++)); do
  out=$( { /usr/bin/time -f "%e %M" "$dmarq" --db "$db" html "${period[@]}" -o "$work/report.html"; } 2>&1)
  times+=("$out")
  echo "html run $i: ${out% *} s, ${out#* } KB peak RSS"
done
size=$(stat -c %s "$work/report.html")
best=$(printf '%s\n' "${times[@]}" | sort -n | head -1)
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
echo "html: best ${best% *} s, median ${median% *} s; file $size bytes"
/usr/bin/time -f "readiness of one domain: %e s, %M KB" \
  "$dmarq" --db "$db" readiness "${period[@]}" --domain domain001.example >/dev/null
/usr/bin/time -f "trend of one domain: %e s, %M KB" \
  "$dmarq" --db "$db" trend --domain domain001.example --days 90 --until 2026-10-31 >/dev/null

missed=0
awk -v t="${median% *}" 'BEGIN { exit !(t < 3) }' || { echo "MISSED: median ${median% *} s is not under 3 s"; missed=1; }
((size < 2 * 1024 * 1024)) || { echo "MISSED: $size bytes is not under 2 MB"; missed=1; }
exit $missed
