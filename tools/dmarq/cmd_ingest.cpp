// dmarq ingest: read files, Maildirs and mboxes into the database.

#include <signal.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <filesystem>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli.h"
#include "dmarq/config/config_file.h"
#include "dmarq/imap/client.h"
#include "dmarq/imap/source.h"
#include "dmarq/ingest/pipeline.h"
#include "dmarq/model/issue.h"
#include "dmarq/source/sources.h"
#include "dmarq/store/ingest_lock.h"
#include "progress.h"

namespace dmarq::cli {
namespace {

struct IngestOptions {
  std::vector<std::string> paths;
  std::vector<std::string> maildirs;
  std::vector<std::string> mboxes;
  std::string imap;
  bool watch = false;
  bool no_progress = false;
  unsigned jobs = 0;
  bool enrich = false;
  DnsOptions dns;
};

struct Totals {
  std::size_t messages = 0, duplicates = 0, rejected_inputs = 0, reports_new = 0, reports_duplicate = 0;
  uint64_t records = 0;
  double load_cpu = 0, extract_cpu = 0;
};

// The mailboxes an ingest reads, as lock names for a shared database: an
// IMAP account by its config name (every host shares it), local inputs by
// this host's name and their absolute path.
std::vector<std::string> mailbox_names(const IngestOptions& o) {
  std::vector<std::string> out;
  if (!o.imap.empty()) out.push_back("imap:" + o.imap);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  auto local = [&](const char* kind, const std::string& path) {
    std::error_code ec;
    auto abs = std::filesystem::absolute(path, ec);
    out.push_back(std::string(kind) + ":" + host + ":" + (ec ? path : abs.lexically_normal().string()));
  };
  for (const auto& d : o.maildirs) local("maildir", d);
  for (const auto& m : o.mboxes) local("mbox", m);
  return out;
}

// SIGTERM and SIGINT ask an IMAP ingest to stop after the current batch:
// what was fetched is committed and moved, then the client logs out.
std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop = true; }

void catch_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

// Ingests everything `src` gives through one pipeline, finishing (moving)
// each message after its commit, then closes the source.
class Runner {
 public:
  Runner(const Globals& g, const IngestOptions& o, store::Store& db) : g_(g), o_(o), db_(db) {}

  void run(source::MessageSource& src, Progress& progress) {
    auto on_done = [&](const source::RawMessage& msg, const ingest::Result& r) {
      ++t.messages;
      t.reports_new += r.reports_new;
      t.reports_duplicate += r.reports_duplicate;
      t.records += r.records;
      if (r.outcome == ingest::Outcome::duplicate) ++t.duplicates;
      bool bad = r.outcome == ingest::Outcome::rejected || r.outcome == ingest::Outcome::partial;
      if (bad || g_.verbose) {
        progress.done();
        for (const auto& rej : r.rejects) {
          ++t.rejected_inputs;
          complain(fmt::format("rejected {}{}: {}", msg.origin,
                               rej.part.empty() || rej.part == "-" ? "" : " part " + rej.part, rej.reason));
        }
        if (g_.verbose)
          for (const auto& i : r.issues)
            if (i.severity == model::Severity::warning)
              complain(fmt::format("warning: {}: {}", msg.origin, model::describe(i)));
      }
      // Only now, with the outcome committed, may the message leave its folder.
      src.finish(msg, bad ? source::Disposition::invalid : source::Disposition::processed);
      progress.update(t.messages, t.rejected_inputs);
    };
    {
      // The pipeline commits every message submitted before it is destroyed,
      // also when next() throws (a lost IMAP connection): what was read is kept.
      ingest::PipelinedIngester pipeline(db_, limits_, on_done, o_.jobs);
      source::RawMessage msg;
      while (src.next(msg)) pipeline.submit(std::move(msg), now_utc());
      pipeline.finish();
      t.load_cpu += pipeline.loader_cpu_seconds();
      t.extract_cpu += pipeline.extract_cpu_seconds();
    }
    src.close();
  }

  Totals t;

 private:
  const Globals& g_;
  const IngestOptions& o_;
  store::Store& db_;
  Limits limits_;
};

// How often an ingest runs into another's transaction (a deadlock) before it
// gives up with a temporary failure.
constexpr int kConflictAttempts = 4;

// Whether attempt `attempt` (from 1), ended by `e`, may be followed by
// another: two hosts whose messages carry the same reports in opposite
// order deadlock on the reports' unique keys (PostgreSQL), and the server
// rolls one back. What was committed has left its mailbox, so reading
// `what` again puts in the rest.
bool retry_conflict(const store::StoreError& e, int attempt, bool verbose, const char* what) {
  if (e.kind() != store::StoreError::Kind::conflict || attempt >= kConflictAttempts) return false;
  if (verbose)
    complain(fmt::format("{}; another ingest wrote the same reports at the same time, reading {} again "
                         "(attempt {} of {})", e.what(), what, attempt + 1, kConflictAttempts));
  return true;
}

int imap_exit(const imap::ImapError& e) {
  complain(e.what());
  return e.transient() ? kTempFail : kUsage;
}

// One pass over the mailbox, or with --watch, passes for as long as the
// process runs: IDLE (or a poll) between them, reconnecting with backoff
// after a network failure. Configuration, TLS and login problems end the run.
int run_imap(const Globals& g, const IngestOptions& o, Runner& runner) {
  imap::Account account;
  std::string password;
  try {
    if (!std::filesystem::exists(g.config))
      throw config::ConfigError("no config file at " + g.config + " (see --config); [imap." + o.imap +
                                "] must be defined there");
    account = imap::load_account(g.config, o.imap);
    password = imap::read_password(account);
  } catch (const config::ConfigError& e) {
    complain(std::string("config: ") + e.what());
    return kUsage;
  }
  catch_stop_signals();
  auto backoff = std::chrono::seconds(1);
  const auto max_backoff = std::chrono::seconds(300);
  int conflicts = 0;
  while (!g_stop) {
    try {
      imap::Client client(account);
      client.connect();
      client.login(password);
      for (;;) {
        imap::ImapSource src(client, account, &g_stop);
        src.open();
        Progress progress(src.size_hint().value_or(0), !o.no_progress && !o.watch);
        runner.run(src, progress);
        progress.done();
        backoff = std::chrono::seconds(1);  // a good pass resets the backoff
        if (!o.watch || g_stop) break;
        // IDLE is renewed well within the 29 minutes RFC 2177 allows; without
        // IDLE the mailbox is polled every minute.
        auto wait = client.has("IDLE") ? std::chrono::seconds(25 * 60) : std::chrono::seconds(60);
        if (client.wait_for_mail(wait, g_stop) == imap::Client::Wait::stopped) break;
      }
      client.logout();
      return kOk;
    } catch (const store::StoreError& e) {
      // Connect again and read the rest.
      if (!retry_conflict(e, ++conflicts, g.verbose, "the mailbox")) throw;
    } catch (const imap::ImapError& e) {
      if (!o.watch || !e.transient()) return imap_exit(e);
      complain(fmt::format("{}; reconnecting in {} s", e.what(), backoff.count()));
      for (auto waited = std::chrono::seconds(0); waited < backoff && !g_stop; waited += std::chrono::seconds(1))
        std::this_thread::sleep_for(std::chrono::seconds(1));
      backoff = std::min(backoff * 2, max_backoff);
    }
  }
  return kOk;
}

int run_ingest(const Globals& g, const IngestOptions& o) {
  bool files = !o.paths.empty() || !o.maildirs.empty() || !o.mboxes.empty();
  if (!files && o.imap.empty()) {
    complain("ingest: give at least one PATH, --maildir DIR, --mbox FILE or --imap NAME (see --help)");
    return kUsage;
  }
  if (files && !o.imap.empty()) {
    complain("ingest: --imap cannot be combined with paths, --maildir or --mbox; run them separately");
    return kUsage;
  }
  if (o.watch && o.imap.empty()) {
    complain("ingest: --watch needs --imap NAME");
    return kUsage;
  }
  std::vector<std::unique_ptr<source::MessageSource>> sources;
  Limits limits;
  auto open_sources = [&] {
    sources.clear();
    if (!o.paths.empty()) sources.push_back(std::make_unique<source::FileSource>(o.paths, limits));
    for (const auto& d : o.maildirs) sources.push_back(std::make_unique<source::MaildirSource>(d, limits));
    for (const auto& m : o.mboxes) sources.push_back(std::make_unique<source::MboxSource>(m, limits));
  };
  try {
    open_sources();
  } catch (const std::exception& e) {
    complain(e.what());
    return kUsage;
  }

  // SQLite: one ingest per database file. PostgreSQL: one per mailbox, the
  // lock held in the database (many hosts write one database).
  const bool shared = store::is_postgres_url(g.db);
  std::optional<store::IngestLock> lock;
  if (!shared) {
    std::filesystem::path parent = std::filesystem::path(g.db).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    if (auto held = store::IngestLock::try_acquire(g.db)) lock.emplace(std::move(*held));
    if (!lock) {
      complain("another ingest is running on " + g.db + "; try again later");
      return kLocked;
    }
  }
  auto db = open_db(g, store::OpenMode::read_write);
  if (shared)
    for (const auto& name : mailbox_names(o)) {
      if (db->try_lock(name)) continue;
      complain("another ingest is reading " + name + "; try again later");
      return kLocked;
    }
  Runner runner(g, o, *db);
  auto started = std::chrono::steady_clock::now();
  int code = kOk;
  if (!o.imap.empty()) {
    code = run_imap(g, o, runner);
  } else {
    std::size_t total = 0;
    bool known = true;
    for (const auto& s : sources) {
      if (auto n = s->size_hint()) total += *n;
      else known = false;
    }
    Progress progress(known ? total : 0, !o.no_progress);
    for (int attempt = 1;; ++attempt) {
      try {
        // One pipeline per source, so every message is finished by its own source.
        for (auto& src : sources) runner.run(*src, progress);
        break;
      } catch (const store::StoreError& e) {
        if (!retry_conflict(e, attempt, g.verbose, "the inputs")) throw;
        open_sources();
      }
    }
    progress.done();
  }
  const Totals& t = runner.t;
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (g.verbose)
    std::cerr << fmt::format("dmarq: {} message(s): {} new report(s), {} duplicate report(s), {} record(s), "
                             "{} duplicate message(s), {} rejected input(s)\n",
                             t.messages, t.reports_new, t.reports_duplicate, t.records, t.duplicates,
                             t.rejected_inputs)
              << fmt::format("dmarq: {:.2f}s wall, {:.2f}s CPU extracting, {:.2f}s CPU loading\n", wall,
                             t.extract_cpu, t.load_cpu);
  if (o.enrich && code != kUsage) {
    // After every commit, under the same lock: what DNS says never holds
    // up or endangers the reports themselves.
    int e = run_enrich(g, o.dns, store::ReportFilter{});
    if (e != kOk && code == kOk) code = e;
  }
  if (code != kOk) return code;
  return t.rejected_inputs > 0 ? kRejected : kOk;
}

}  // namespace

void add_ingest(CLI::App& app, Globals& g, Action& run) {
  auto o = std::make_shared<IngestOptions>();
  auto* cmd = app.add_subcommand("ingest", "Ingest aggregate reports from files, Maildirs and mboxes");
  cmd->footer(
      "Inputs are recognised by content: .xml, .xml.gz, .gz, .zip or a whole e-mail.\n"
      "Maildir and IMAP messages move to the Processed (or Invalid) folder once\n"
      "committed; files and mboxes are never changed.\n"
      "Exit: 0 all ingested, 1 some inputs rejected, 2 usage, configuration, TLS\n"
      "or login error, 75 temporary failure (another ingest holds the database or\n"
      "the mailbox, kept colliding with this one, the database server went away,\n"
      "or the IMAP server could not be reached): try again later.");
  cmd->add_option("paths", o->paths, "Files or directories (recursive)");
  // One value per --maildir and --mbox: the words after them are PATHs.
  cmd->add_option("--maildir", o->maildirs, "A Maildir (reads new/ and cur/); repeatable")->allow_extra_args(false);
  cmd->add_option("--mbox", o->mboxes, "An mbox file (read-only); repeatable")->allow_extra_args(false);
  cmd->add_option("--imap", o->imap, "The IMAP account [imap.NAME] of the config file");
  cmd->add_flag("--watch", o->watch, "With --imap: stay connected and ingest new mail as it arrives (IDLE)");
  cmd->add_flag("--no-progress", o->no_progress, "Never show the progress bar");
  cmd->add_option("--jobs", o->jobs, "Extraction threads (default: one per CPU, at most 4)")
      ->check(CLI::Range(0u, 16u));
  cmd->add_flag("--enrich", o->enrich, "Then resolve PTR and FCrDNS of new source addresses (see dmarq enrich)");
  add_dns_options(cmd, o->dns);
  cmd->callback([&g, &run, o] { run = [&g, o] { return run_ingest(g, *o); }; });
}

}  // namespace dmarq::cli
