#!/usr/bin/env bash
# Builds the libFuzzer targets (CMake preset "fuzz": clang-14 with
# -fsanitize=fuzzer,address,undefined) and runs each for SECONDS (default 60)
# from its seeds, the directories its CTest replayer runs over. Prints one
# line per target: executions, executions per second, coverage (libFuzzer's
# "cov:" edges) and the result. Exits 1 if any target crashed, timed out, ran
# out of memory or leaked, after printing the reproducer to replay.
#
#   tools/fuzz.sh [SECONDS]        JOBS=N for the build (default: nproc)
#
# Each run starts from a fresh corpus in build-fuzz/corpus/NAME (new inputs
# go there; the seeds are read in place); logs are in build-fuzz/fuzz-logs,
# reproducers in build-fuzz/artifacts/NAME.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [SECONDS]" >&2
  exit 2
fi
build=build-fuzz
if ! command -v clang++-14 >/dev/null; then
  echo "fuzz.sh: clang++-14 not found (Debian 12: apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 2
fi

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "${JOBS:-$(nproc)}"

# The build makes undefined behaviour fatal already (-fno-sanitize-recover in
# the preset); these keep that true for a build configured by hand.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

# The value after `key` on the last line of `file` that has it.
last_value() {  # file key
  grep -o "$2 *[0-9]*" "$1" | tail -n 1 | grep -o '[0-9]*$' || true
}

failed=0
reproducers=()
printf '%-14s %12s %10s %8s %8s  %s\n' target execs exec/s cov ft result
for list in "$build"/fuzz-seeds/*; do
  name=$(basename "$list")
  corpus=$build/corpus/$name
  artifacts=$build/artifacts/$name
  log=$build/fuzz-logs/$name.log
  rm -rf "$corpus" "$artifacts"
  mkdir -p "$corpus" "$artifacts" "$build/fuzz-logs"
  seeds=()
  while IFS= read -r dir; do
    [[ -n $dir && -d $dir ]] && seeds+=("$dir")
  done <"$list"

  status=0
  # timeout(1) only as a backstop: libFuzzer stops itself at -max_total_time
  # and bounds each input with -timeout; SIGINT still prints its final stats.
  timeout -s INT -k 30 $((seconds + 120)) \
    "$build/tests/fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "${seeds[@]}" >"$log" 2>&1 || status=$?

  execs=$(last_value "$log" 'stat::number_of_executed_units:')
  rate=$(last_value "$log" 'stat::average_exec_per_sec:')
  cov=$(last_value "$log" 'cov:')
  ft=$(last_value "$log" 'ft:')
  result=ok
  artifact=$(find "$artifacts" -type f | head -n 1)
  if [[ -n $artifact ]]; then
    # crash-, timeout-, oom-, leak-, slow-unit-: libFuzzer names the kind.
    result="$(basename "$artifact" | sed 's/-[0-9a-f]*$//'): $artifact"
  elif ((status != 0)); then
    result="exit status $status, no reproducer written (see $log)"
  fi
  if [[ $result != ok ]]; then
    failed=1
    [[ -n $artifact ]] && reproducers+=("$name: $build/tests/fuzz/fuzz_$name $artifact")
  fi
  printf '%-14s %12s %10s %8s %8s  %s\n' "fuzz_$name" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$result"
done

if ((failed)); then
  echo >&2
  echo "fuzzing found problems; logs in $build/fuzz-logs. Reproduce with:" >&2
  for r in "${reproducers[@]}"; do echo "  $r" >&2; done
  exit 1
fi
