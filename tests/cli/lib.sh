# Shared helpers for the CLI tests. Source it after `set -euo pipefail`:
#   source "$(dirname "$0")/lib.sh"; cli_setup "$@"
# cli_setup sets DMARQ (binary), DATA (tests/data/reports), work (a fresh
# temporary directory, removed on exit) and db ($work/db.sqlite), and points
# HOME at $work so nothing can touch the real home or default database.

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# expect_eq WHAT EXPECTED GOT
expect_eq() {
  [[ "$2" == "$3" ]] || fail "$1: expected [$2], got [$3]"
}

# expect_contains WHAT NEEDLE HAYSTACK
expect_contains() {
  [[ "$3" == *"$2"* ]] || fail "$1: expected to contain [$2], got [$3]"
}

# expect_not_contains WHAT NEEDLE HAYSTACK
expect_not_contains() {
  [[ "$3" != *"$2"* ]] || fail "$1: expected not to contain [$2], got [$3]"
}

# expect_file PATH / expect_no_file PATH
expect_file() { [[ -f "$1" ]] || fail "expected file $1 to exist"; }
expect_no_file() { [[ ! -e "$1" ]] || fail "expected $1 not to exist"; }

# run CMD...: runs CMD with set -e suspended; sets $rc, $out (stdout) and
# $err (stderr) for the checks that follow.
run() {
  set +e
  "$@" >"$work/.out" 2>"$work/.err"
  rc=$?
  set -e
  out=$(cat "$work/.out")
  err=$(cat "$work/.err")
}

# expect_exit CODE CMD...: runs CMD (via run) and checks its exit status.
expect_exit() {
  local want=$1
  shift
  run "$@"
  [[ "$rc" == "$want" ]] || fail "exit status of [$*]: expected $want, got $rc; stderr: [$err]"
}

# csv_rows TEXT: number of data rows (lines after the header) in CSV text.
csv_rows() {
  local n
  n=$(printf '%s\n' "$1" | grep -c . || true)
  echo $((n > 0 ? n - 1 : 0))
}

# count_files DIR: regular files anywhere below DIR (maildirfolder markers
# excluded: they are not messages).
count_files() { find "$1" -type f ! -name maildirfolder | wc -l; }

# sql QUERY: runs QUERY on $db with the sqlite3 CLI.
sql() { sqlite3 "$db" "$1"; }

cli_setup() {
  [[ $# -eq 2 ]] || fail "usage: $0 DMARQ_BINARY TESTS_DATA_DIR"
  DMARQ=$1
  DATA=$2/reports
  [[ -x "$DMARQ" ]] || fail "not an executable: $DMARQ"
  [[ -d "$DATA" ]] || fail "no test data at $DATA"
  # Nothing in a test may wait for the terminal (openssl s_client, sqlite3
  # and others read standard input when it is there).
  exec </dev/null
  work=$(mktemp -d)
  trap cli_cleanup EXIT
  export HOME=$work
  unset DMARQ_DB XDG_DATA_HOME
  db=$work/db.sqlite
}

# Scripts that start background jobs add their pids to CLEANUP_PIDS.
# Helper libraries add cleanup functions to CLEANUP_HOOKS
# (CLEANUP_HOOKS+=(fn)); cli_cleanup runs them first, while $work still
# exists. A hook must not call fail or exit.
CLEANUP_PIDS=()
CLEANUP_HOOKS=()
cli_cleanup() {
  local pid hook
  for hook in "${CLEANUP_HOOKS[@]}"; do "$hook" || true; done
  for pid in "${CLEANUP_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${CLEANUP_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}

# dq ARGS...: dmarq on the test database.
dq() { "$DMARQ" --db "$db" "$@"; }
