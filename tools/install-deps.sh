#!/usr/bin/env bash
# Installs every Debian 12 package dmarq needs to build, test and benchmark.
# Idempotent: when everything is already there it only runs dpkg-query and exits.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libxml2-dev libarchive-dev libmimetic-dev libsqlite3-dev libpq-dev zlib1g-dev
  libcli11-dev libfmt-dev nlohmann-json3-dev libpsl-dev publicsuffix libtomlplusplus-dev
  libboost-dev libssl-dev libc-ares-dev libxxhash-dev
  catch2 sqlite3 python3 openssl time
  dovecot-imapd nsd postgresql locales chromium chromium-driver
  clang-14 libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  # Captured, not piped into grep -q: under pipefail a writer killed by
  # SIGPIPE would fail the test.
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  if [[ $status != *'install ok installed'* ]]; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
