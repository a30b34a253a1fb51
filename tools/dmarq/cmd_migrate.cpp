// dmarq migrate: copies a database into another, typically an SQLite file
// into the PostgreSQL database that several ingest hosts will share.
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli.h"
#include "dmarq/store/store.h"
#include "progress.h"

namespace dmarq::cli {
namespace {

struct MigrateOptions {
  std::string from, to;
  bool no_progress = false;
};

int run_migrate(const Globals& g, const MigrateOptions& o) {
  const std::string from = o.from.empty() ? g.db : o.from;
  if (!store::is_postgres_url(from)) {
    Globals src = g;
    src.db = store::sqlite_path(from);
    if (!require_db(src)) return kUsage;
  }
  if (from == o.to) {
    complain("--from and --to name the same database");
    return kUsage;
  }
  auto source = open_db(g, store::OpenMode::read_only, from);
  auto target = open_db(g, store::OpenMode::read_write, o.to);
  std::unique_ptr<Progress> progress;  // the total is known once the source is listed
  auto totals = store::copy_store(*source, *target, [&](uint64_t done, uint64_t total) {
    if (!progress) progress = std::make_unique<Progress>(total, !o.no_progress);
    progress->update(done, 0);
  });
  if (progress) progress->done();
  if (g.verbose || totals.messages > 0)
    std::cerr << fmt::format("dmarq: copied {} message(s) ({} report(s), {} record(s)); {} already there\n",
                             totals.messages, totals.reports, totals.records, totals.skipped);
  return kOk;
}

}  // namespace

void add_migrate(CLI::App& app, Globals& g, Action& run) {
  auto o = std::make_shared<MigrateOptions>();
  auto* cmd = app.add_subcommand("migrate", "Copy a database into another (SQLite into PostgreSQL)");
  cmd->footer(
      "Each stored message is replayed into --to as ingest wrote it: its reports, records, feedback,\n"
      "bounces and rejected inputs, in one transaction, deduplicated as an ingest would be; then the\n"
      "enrichment. Messages --to already holds are skipped, so a rerun (or a run after a crash) is safe.\n"
      "Example: dmarq migrate --from sqlite:/var/lib/dmarq/dmarq.sqlite --to postgresql://dmarq@db/dmarq");
  cmd->add_option("--from", o->from, "Source: sqlite:PATH, a path, or postgresql://... (default: --db)");
  cmd->add_option("--to", o->to, "Target: postgresql://... (the password from ~/.pgpass), or sqlite:PATH")
      ->required();
  cmd->add_flag("--no-progress", o->no_progress, "Never show the progress bar");
  cmd->callback([&g, &run, o] { run = [&g, o] { return run_migrate(g, *o); }; });
}

}  // namespace dmarq::cli
