#!/usr/bin/env bash
# Install what dmarq needs (Debian 12), build everything with warnings as
# errors, and run the whole test suite through CTest. .ci/run calls this.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
cmake -S . -B build-tests -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDMARQ_WERROR=ON >/dev/null
cmake --build build-tests
ctest --test-dir build-tests --output-on-failure --timeout 600 -j "$(nproc)"
