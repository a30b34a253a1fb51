// dmarq ingest: read files, Maildirs and mboxes into the database.

#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli.h"
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
  bool no_progress = false;
  unsigned jobs = 0;
};

struct Totals {
  std::size_t messages = 0, duplicates = 0, rejected_inputs = 0, reports_new = 0, reports_duplicate = 0;
  uint64_t records = 0;
};

int run_ingest(const Globals& g, const IngestOptions& o) {
  if (o.paths.empty() && o.maildirs.empty() && o.mboxes.empty()) {
    complain("ingest: give at least one PATH, --maildir DIR or --mbox FILE (see --help)");
    return kUsage;
  }
  std::vector<std::unique_ptr<source::MessageSource>> sources;
  Limits limits;
  try {
    if (!o.paths.empty()) sources.push_back(std::make_unique<source::FileSource>(o.paths, limits));
    for (const auto& d : o.maildirs) sources.push_back(std::make_unique<source::MaildirSource>(d, limits));
    for (const auto& m : o.mboxes) sources.push_back(std::make_unique<source::MboxSource>(m, limits));
  } catch (const std::exception& e) {
    complain(e.what());
    return kUsage;
  }

  std::filesystem::path parent = std::filesystem::path(g.db).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  auto lock = store::IngestLock::try_acquire(g.db);
  if (!lock) {
    complain("another ingest is running on " + g.db + "; try again later");
    return kLocked;
  }
  auto db = store::open_sqlite(g.db, store::OpenMode::read_write);

  std::size_t total = 0;
  bool known = true;
  for (const auto& s : sources) {
    if (auto n = s->size_hint()) total += *n;
    else known = false;
  }
  Progress progress(known ? total : 0, !o.no_progress);
  Totals t;
  // Runs on the loading thread, right after each message is committed.
  source::MessageSource* current = nullptr;
  auto on_done = [&](const source::RawMessage& msg, const ingest::Result& r) {
    ++t.messages;
    t.reports_new += r.reports_new;
    t.reports_duplicate += r.reports_duplicate;
    t.records += r.records;
    if (r.outcome == ingest::Outcome::duplicate) ++t.duplicates;
    bool bad = r.outcome == ingest::Outcome::rejected || r.outcome == ingest::Outcome::partial;
    if (bad || g.verbose) {
      progress.done();
      for (const auto& rej : r.rejects) {
        ++t.rejected_inputs;
        complain(fmt::format("rejected {}{}: {}", msg.origin, rej.part.empty() || rej.part == "-" ? "" : " part " + rej.part,
                             rej.reason));
      }
      if (g.verbose)
        for (const auto& i : r.issues)
          if (i.severity == model::Severity::warning)
            complain(fmt::format("warning: {}: {}", msg.origin, model::describe(i)));
    }
    // Only now, with the outcome committed, may the message leave its folder.
    current->finish(msg, bad ? source::Disposition::invalid : source::Disposition::processed);
    progress.update(t.messages, t.rejected_inputs);
  };
  source::RawMessage msg;
  double load_cpu = 0, extract_cpu = 0;
  auto started = std::chrono::steady_clock::now();
  for (auto& src : sources) {
    // One pipeline per source, so every message is finished by its own source.
    current = src.get();
    ingest::PipelinedIngester pipeline(*db, limits, on_done, o.jobs);
    while (src->next(msg)) pipeline.submit(std::move(msg), now_utc());
    pipeline.finish();
    load_cpu += pipeline.loader_cpu_seconds();
    extract_cpu += pipeline.extract_cpu_seconds();
  }
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  progress.done();
  if (g.verbose)
    std::cerr << fmt::format("dmarq: {} message(s): {} new report(s), {} duplicate report(s), {} record(s), "
                             "{} duplicate message(s), {} rejected input(s)\n",
                             t.messages, t.reports_new, t.reports_duplicate, t.records, t.duplicates,
                             t.rejected_inputs)
              << fmt::format("dmarq: {:.2f}s wall, {:.2f}s CPU extracting, {:.2f}s CPU loading\n", wall,
                             extract_cpu, load_cpu);
  return t.rejected_inputs > 0 ? kRejected : kOk;
}

}  // namespace

void add_ingest(CLI::App& app, Globals& g, Action& run) {
  auto o = std::make_shared<IngestOptions>();
  auto* cmd = app.add_subcommand("ingest", "Ingest aggregate reports from files, Maildirs and mboxes");
  cmd->footer(
      "Inputs are recognised by content: .xml, .xml.gz, .gz, .zip or a whole e-mail.\n"
      "Maildir messages move to DIR/.Processed (or DIR/.Invalid) once committed;\n"
      "files and mboxes are never changed.\n"
      "Exit: 0 all ingested, 1 some inputs rejected, 2 usage/environment error,\n"
      "75 another ingest holds the database.");
  cmd->add_option("paths", o->paths, "Files or directories (recursive)");
  cmd->add_option("--maildir", o->maildirs, "A Maildir (reads new/ and cur/)");
  cmd->add_option("--mbox", o->mboxes, "An mbox file (read-only)");
  cmd->add_flag("--no-progress", o->no_progress, "Never show the progress bar");
  cmd->add_option("--jobs", o->jobs, "Extraction threads (default: one per CPU, at most 4)")
      ->check(CLI::Range(0u, 16u));
  cmd->callback([&g, &run, o] { run = [&g, o] { return run_ingest(g, *o); }; });
}

}  // namespace dmarq::cli
