#!/usr/bin/env bash
# Installs what dmarq needs (Debian 12), builds everything with warnings as
# errors and runs every check CI runs (.ci/run calls this):
#   1. the whole test suite through CTest, the long crash tests included;
#   2. the suite again under four time zones and under a Latin-1 locale with
#      a decimal comma (the crash tests once is enough: label "long");
#   3. the suite built with ASan + UBSan, LeakSanitizer on (detect_leaks=1);
#   4. every libFuzzer target for 60 s (tools/fuzz.sh; clang-14).
#
#   tools/run-tests.sh            all four, as CI does (about 30 to 40 minutes
#                                 on two cores)
#   tools/run-tests.sh --quick    stage 1 only
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
case "${1:-}" in
  "") ;;
  --quick) quick=1 ;;
  -h | --help)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "usage: $0 [--quick]" >&2
    exit 2
    ;;
esac

jobs=$(nproc)
stage() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%SZ)"; }

tools/install-deps.sh

stage "1/4 build and test"
cmake -S . -B build-tests -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDMARQ_WERROR=ON >/dev/null
cmake --build build-tests
ctest --test-dir build-tests --output-on-failure --timeout 900 -j "$jobs"
((quick)) && exit 0

stage "2/4 the suite under other time zones and a Latin-1 locale"
# Zones off UTC by a whole, half and three-quarter hour, and by 14 hours.
for tz in UTC Pacific/Kiritimati America/St_Johns Asia/Kathmandu; do
  echo "--- TZ=$tz"
  TZ=$tz ctest --test-dir build-tests --output-on-failure --timeout 900 -j "$jobs" -LE long
done
locales=$PWD/build-tests/locale
mkdir -p "$locales"
localedef -i de_DE -f ISO-8859-1 "$locales/de_DE.ISO-8859-1"
echo "--- LC_ALL=de_DE.ISO-8859-1"
LOCPATH=$locales LC_ALL=de_DE.ISO-8859-1 ctest --test-dir build-tests --output-on-failure --timeout 900 -j "$jobs" -LE long

stage "3/4 ASan + UBSan + LeakSanitizer"
cmake --preset asan >/dev/null
cmake --build --preset asan
ctest --preset asan -j "$jobs"

stage "4/4 fuzzing, 60 s per target"
tools/fuzz.sh 60
