// dmarq-bench: times `dmarq ingest --maildir` on a corpus (e.g. one written
// by dmarq-gen), or with --query-db the analyzer's commands (sources,
// readiness, trend) on an existing database. A benchmark, not a test: it
// reports numbers and only fails when dmarq fails or the database cannot be
// read.
//
// Guarantees:
//  * The source Maildir is never modified: every run ingests a fresh
//    recursive copy made in a private temp directory (under $TMPDIR).
//  * Without --db each run gets a new empty database, so runs are
//    comparable; the temp directory is removed at the end unless --keep.
//  * Wall time covers fork to wait4 only (not the copy); peak RSS is the
//    child's ru_maxrss from wait4.
//  * Rows are counted with `SELECT count(*) FROM report` / `FROM record` on a
//    read-only connection; those table names are dmarq's contract. If the
//    count fails the sqlite error is printed and the exit status is 2.
//  * Exit status: 0 when every run exited 0; 1 when some dmarq run exited
//    otherwise (1 = some inputs rejected, 75 = lock held); 2 on setup or
//    database errors.
#include <CLI/CLI.hpp>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct Options {
  fs::path dmarq;
  fs::path maildir;
  fs::path db;  // empty: a fresh temp database per run
  int runs = 1;
  std::string extra;
  bool keep = false;
  // --query-db mode.
  fs::path query_db;
  std::string domain, since, until;
  fs::path config;
  // --imap mode: ingest account NAME of --config (the mailbox is filled by
  // the caller before each run; see tools/bench/imap-bench.sh).
  std::string imap;
};

struct ChildResult {
  int exit_code = -1;  // 128 + signal when killed, like a shell
  int signal = 0;
  double wall_seconds = 0;
  long peak_rss_kib = 0;
};

struct Counts {
  uint64_t reports = 0, records = 0, messages = 0;
};

struct RunResult {
  ChildResult child;
  Counts counts;
};

// Owns the private temp directory; removes it unless the user asked to keep
// it (to inspect the database or the ingested copy).
class WorkDir {
 public:
  explicit WorkDir(bool keep) : keep_(keep) {
    std::string tmpl = (fs::temp_directory_path() / "dmarq-bench-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
    path_ = tmpl;
  }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  ~WorkDir() {
    std::error_code ec;
    if (keep_)
      std::fprintf(stderr, "dmarq-bench: kept %s\n", path_.c_str());
    else
      fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  bool keep_;
};

// The build puts dmarq-bench in tools/bench/ and dmarq in tools/dmarq/.
fs::path default_dmarq() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "dmarq";
  return self.parent_path().parent_path() / "dmarq" / "dmarq";
}

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

const char* exit_meaning(int code) {
  switch (code) {
    case 0: return "ok";
    case 1: return "some inputs rejected";
    case 75: return "lock held";
    case 127: return "could not execute dmarq";
    default: return code > 128 ? "killed by signal" : "failed";
  }
}

uint64_t copy_tree(const fs::path& from, const fs::path& to) {
  fs::copy(from, to, fs::copy_options::recursive);
  uint64_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(to))
    if (e.is_regular_file()) bytes += e.file_size();
  return bytes;
}

// fork + execv + wait4. argv is built before fork so the child only calls
// async-signal-safe functions. stdout/stderr are inherited (passed through),
// or stdout goes to /dev/null when `quiet`.
ChildResult run_child(const std::vector<std::string>& args, bool quiet = false) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);

  ChildResult r;
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    if (quiet) {
      int null = open("/dev/null", O_WRONLY);
      if (null >= 0) dup2(null, 1);
    }
    execv(argv[0], argv.data());
    static constexpr char kMsg[] = "dmarq-bench: execv failed\n";
    [[maybe_unused]] auto n = write(2, kMsg, sizeof kMsg - 1);
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) throw std::runtime_error("wait4: " + std::string(std::strerror(errno)));
  }
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.peak_rss_kib = usage.ru_maxrss;  // KiB on Linux
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
    r.exit_code = 128 + r.signal;
  }
  return r;
}

std::optional<uint64_t> query_count(sqlite3* db, const char* sql, std::string& error) {
  sqlite3_stmt* stmt = nullptr;
  std::optional<uint64_t> result;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    result = static_cast<uint64_t>(sqlite3_column_int64(stmt, 0));
  } else {
    error = std::string(sql) + ": " + sqlite3_errmsg(db);
  }
  sqlite3_finalize(stmt);
  return result;
}

// Read-only so a benchmark can never alter (or create) the database.
std::optional<Counts> count_rows(const fs::path& path, std::string& error) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    error = "open " + path.string() + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return std::nullopt;
  }
  sqlite3_busy_timeout(db, 5000);
  std::optional<Counts> counts;
  const auto reports = query_count(db, "SELECT count(*) FROM report", error);
  const auto records = reports ? query_count(db, "SELECT count(*) FROM record", error) : std::nullopt;
  const auto messages = records ? query_count(db, "SELECT count(*) FROM message", error) : std::nullopt;
  if (reports && records && messages) counts = Counts{*reports, *records, *messages};
  sqlite3_close(db);
  return counts;
}

void print_run(int n, const RunResult& r) {
  const double rate = r.child.wall_seconds > 0 ? r.counts.records / r.child.wall_seconds : 0;
  const double mrate = r.child.wall_seconds > 0 ? r.counts.messages / r.child.wall_seconds : 0;
  std::printf("run %d: messages=%llu reports=%llu records=%llu wall=%.3fs messages/s=%.0f records/s=%.0f "
              "peak_rss=%.1f MB exit=%d",
              n, static_cast<unsigned long long>(r.counts.messages), static_cast<unsigned long long>(r.counts.reports),
              static_cast<unsigned long long>(r.counts.records), r.child.wall_seconds, mrate, rate,
              r.child.peak_rss_kib / 1024.0, r.child.exit_code);
  if (r.child.exit_code != 0) std::printf(" (%s)", exit_meaning(r.child.exit_code));
  std::printf("\n");
  std::fflush(stdout);
}

// Median-based so one noisy run does not skew the headline numbers.
void print_summary(const std::vector<RunResult>& runs) {
  if (runs.empty()) return;
  std::vector<RunResult> sorted = runs;
  std::sort(sorted.begin(), sorted.end(), [](const RunResult& a, const RunResult& b) {
    return a.child.wall_seconds < b.child.wall_seconds;
  });
  const RunResult& median = sorted[sorted.size() / 2];
  long peak = 0;
  int failed = 0;
  for (const auto& r : runs) {
    peak = std::max(peak, r.child.peak_rss_kib);
    failed += r.child.exit_code != 0;
  }
  const double rate = median.child.wall_seconds > 0
                          ? median.counts.records / median.child.wall_seconds : 0;
  const double mrate = median.child.wall_seconds > 0 ? median.counts.messages / median.child.wall_seconds : 0;
  std::printf("summary: runs=%zu failed=%d messages=%llu reports=%llu records=%llu wall min/median/max="
              "%.3f/%.3f/%.3fs messages/s(median)=%.0f records/s(median)=%.0f peak_rss(max)=%.1f MB\n",
              runs.size(), failed, static_cast<unsigned long long>(median.counts.messages),
              static_cast<unsigned long long>(median.counts.reports),
              static_cast<unsigned long long>(median.counts.records),
              sorted.front().child.wall_seconds, median.child.wall_seconds,
              sorted.back().child.wall_seconds, mrate, rate, peak / 1024.0);
}

std::string check_options(const Options& o) {
  if (access(o.dmarq.c_str(), X_OK) != 0)
    return "dmarq executable not found at " + o.dmarq.string() + " (use --dmarq PATH)";
  if (!o.imap.empty()) return o.runs < 1 ? "--runs must be at least 1" : std::string();
  if (!fs::is_directory(o.maildir)) return "--maildir " + o.maildir.string() + " is not a directory";
  if (!fs::is_directory(o.maildir / "new") && !fs::is_directory(o.maildir / "cur"))
    return o.maildir.string() + " has neither new/ nor cur/: not a Maildir";
  if (o.runs < 1) return "--runs must be at least 1";
  return {};
}

// One benchmark run: fresh copy, optional fresh DB, time dmarq, count rows.
// Returns nullopt (after printing why) when the database cannot be counted.
std::optional<RunResult> bench_once(const Options& o, const WorkDir& work, int n) {
  const fs::path run_dir = work.path() / ("run-" + std::to_string(n));
  if (!o.imap.empty()) {
    fs::create_directories(run_dir);
    const fs::path db = o.db.empty() ? run_dir / "bench.sqlite" : o.db;
    std::vector<std::string> args = {o.dmarq.string(), "--db", db.string(), "--config", o.config.string(),
                                     "ingest", "--imap", o.imap};
    for (auto& w : split_words(o.extra)) args.push_back(std::move(w));
    RunResult r;
    r.child = run_child(args);
    std::string error;
    const auto counts = count_rows(db, error);
    if (!counts) {
      std::fprintf(stderr, "dmarq-bench: cannot count rows: %s\n", error.c_str());
      return std::nullopt;
    }
    r.counts = *counts;
    print_run(n, r);
    return r;
  }
  const fs::path copy = run_dir / "maildir";
  fs::create_directories(run_dir);
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t bytes = copy_tree(o.maildir, copy);
  const double copy_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const fs::path db = o.db.empty() ? run_dir / "bench.sqlite" : o.db;

  std::vector<std::string> args = {o.dmarq.string(), "--db", db.string(), "ingest", "--maildir",
                                   copy.string()};
  for (auto& w : split_words(o.extra)) args.push_back(std::move(w));
  std::string line;
  for (const auto& a : args) line += (line.empty() ? "" : " ") + a;
  std::fprintf(stderr, "dmarq-bench: run %d: copied %.1f MB in %.2fs; %s\n", n, bytes / 1048576.0,
               copy_s, line.c_str());

  RunResult r;
  r.child = run_child(args);
  std::string error;
  const auto counts = count_rows(db, error);
  if (!counts) {
    std::printf("run %d: wall=%.3fs peak_rss=%.1f MB exit=%d (%s)\n", n, r.child.wall_seconds,
                r.child.peak_rss_kib / 1024.0, r.child.exit_code, exit_meaning(r.child.exit_code));
    std::fprintf(stderr, "dmarq-bench: cannot count rows: %s\n", error.c_str());
    return std::nullopt;
  }
  r.counts = *counts;
  print_run(n, r);
  // The copy can be as large as the corpus; keep only the last one around.
  if (!o.keep) fs::remove_all(copy);
  return r;
}

// --query-db: each analyzer command `runs` times on the same database (the
// first run warms the page cache like any second query of the day would);
// prints each time and the median, and the peak RSS.
int bench_queries(const Options& o) {
  if (!fs::is_regular_file(o.query_db)) {
    std::fprintf(stderr, "dmarq-bench: --query-db %s is not a file\n", o.query_db.c_str());
    return 2;
  }
  std::string error;
  const auto counts = count_rows(o.query_db, error);
  if (!counts) {
    std::fprintf(stderr, "dmarq-bench: cannot count rows: %s\n", error.c_str());
    return 2;
  }
  std::printf("database: %s reports=%llu records=%llu\n", o.query_db.c_str(),
              static_cast<unsigned long long>(counts->reports), static_cast<unsigned long long>(counts->records));
  std::vector<std::string> base = {o.dmarq.string(), "--db", o.query_db.string()};
  if (!o.config.empty()) {
    base.push_back("--config");
    base.push_back(o.config.string());
  }
  const std::vector<std::pair<std::string, std::vector<std::string>>> commands = {
      {"sources", {"sources", "--domain", o.domain, "--since", o.since, "--until", o.until}},
      {"readiness", {"readiness", "--domain", o.domain, "--since", o.since, "--until", o.until}},
      {"trend", {"trend", "--domain", o.domain, "--days", "90", "--until", o.until}},
  };
  bool ok = true;
  for (const auto& [name, words] : commands) {
    std::vector<std::string> args = base;
    args.insert(args.end(), words.begin(), words.end());
    std::vector<double> times;
    long peak = 0;
    for (int n = 1; n <= o.runs; ++n) {
      ChildResult r = run_child(args, true);
      // readiness exits 0 (no --fail-if-not-ready); anything else is a failure.
      if (r.exit_code != 0) {
        std::printf("%s: run %d exit=%d (%s)\n", name.c_str(), n, r.exit_code, exit_meaning(r.exit_code));
        ok = false;
        break;
      }
      times.push_back(r.wall_seconds);
      peak = std::max(peak, r.peak_rss_kib);
    }
    if (times.empty()) continue;
    std::vector<double> sorted = times;
    std::sort(sorted.begin(), sorted.end());
    std::printf("%s: runs=%zu wall min/median/max=%.3f/%.3f/%.3fs peak_rss(max)=%.1f MB\n", name.c_str(),
                times.size(), sorted.front(), sorted[sorted.size() / 2], sorted.back(), peak / 1024.0);
  }
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dmarq-bench: time `dmarq ingest --maildir` on a copy of a corpus"};
  Options o;
  o.dmarq = default_dmarq();
  app.add_option("--dmarq", o.dmarq, "dmarq executable")->capture_default_str();
  auto* maildir = app.add_option("--maildir", o.maildir, "source Maildir (never modified; copied per run)");
  auto* query_db = app.add_option("--query-db", o.query_db,
                                  "instead of ingesting: time sources, readiness and trend on this database");
  maildir->excludes(query_db);
  app.add_option("--domain", o.domain, "--query-db: the policy domain")->needs(query_db);
  app.add_option("--since", o.since, "--query-db: sources/readiness start, Nd or YYYY-MM-DD")
      ->needs(query_db)
      ->default_val("30d");
  app.add_option("--until", o.until, "--query-db: last day, YYYY-MM-DD (trend covers the 90 days ending then)")
      ->needs(query_db);
  auto* imap = app.add_option("--imap", o.imap,
                               "instead of a Maildir: ingest IMAP account NAME of --config (fill the mailbox "
                               "before each run; tools/bench/imap-bench.sh does)");
  maildir->excludes(imap);
  query_db->excludes(imap);
  app.add_option("--config", o.config, "--query-db: config with known senders; --imap: config with the account");
  app.add_option("--db", o.db,
                 "database path; default: a new temp database per run. A given path is "
                 "reused by every run and never deleted");
  app.add_option("--runs", o.runs, "number of runs")->capture_default_str();
  app.add_option("--extra", o.extra,
                 "extra dmarq arguments (one string, split on spaces), appended after "
                 "`ingest --maildir DIR`");
  app.add_flag("--keep", o.keep, "keep the temp work dir (copies and databases)");
  CLI11_PARSE(app, argc, argv);
  if (o.query_db.empty() && o.maildir.empty() && o.imap.empty()) {
    std::fprintf(stderr, "dmarq-bench: give --maildir DIR or --imap NAME (ingest), or --query-db DB (analyzer)\n");
    return 2;
  }
  if (!o.query_db.empty()) {
    if (o.domain.empty() || o.until.empty()) {
      std::fprintf(stderr, "dmarq-bench: --query-db needs --domain and --until\n");
      return 2;
    }
    if (access(o.dmarq.c_str(), X_OK) != 0) {
      std::fprintf(stderr, "dmarq-bench: dmarq executable not found at %s\n", o.dmarq.c_str());
      return 2;
    }
    return bench_queries(o);
  }

  if (const std::string err = check_options(o); !err.empty()) {
    std::fprintf(stderr, "dmarq-bench: %s\n", err.c_str());
    return 2;
  }
  try {
    const WorkDir work(o.keep);
    std::vector<RunResult> results;
    for (int n = 1; n <= o.runs; ++n) {
      auto r = bench_once(o, work, n);
      if (!r) return 2;
      results.push_back(*r);
    }
    print_summary(results);
    const bool all_ok = std::all_of(results.begin(), results.end(),
                                    [](const RunResult& r) { return r.child.exit_code == 0; });
    return all_ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dmarq-bench: %s\n", e.what());
    return 2;
  }
}
