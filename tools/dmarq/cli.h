// Shared pieces of the dmarq command line: global options, exit codes, and
// the helpers every subcommand uses. The CLI is glue: it parses options,
// calls the library, prints, and maps outcomes to exit codes.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>

#include "dmarq/store/store.h"

namespace dmarq::cli {

// Exit codes cron and scripts can act on.
enum ExitCode : int {
  kOk = 0,         // everything done (duplicates count as done)
  kRejected = 1,   // some inputs were rejected and set aside; the rest is done
  kUsage = 2,      // usage, configuration or environment error
  kLocked = 75,    // EX_TEMPFAIL: another ingest holds the database
};

struct Globals {
  std::string db;  // resolved database path
  bool verbose = false;
};

// $DMARQ_DB, else $XDG_DATA_HOME/dmarq/dmarq.sqlite, else
// ~/.local/share/dmarq/dmarq.sqlite.
std::string default_db_path();

// "30d" (days before now), "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ", UTC.
std::optional<int64_t> parse_since(const std::string& text, int64_t now);

int64_t now_utc();

// The --domain/--since filter of the read commands; nullopt (after saying
// why) when --since is not a date.
std::optional<store::ReportFilter> make_filter(const std::optional<std::string>& domain,
                                               const std::optional<std::string>& since);

// Each subcommand registers itself and sets `run` to its action.
using Action = std::function<int()>;
void add_ingest(CLI::App& app, Globals& g, Action& run);
void add_reports(CLI::App& app, Globals& g, Action& run);
void add_export(CLI::App& app, Globals& g, Action& run);
void add_rejects(CLI::App& app, Globals& g, Action& run);

// Prints "dmarq: <message>" to stderr, terminal-safe.
void complain(const std::string& message);

// Fails (exit 2) when the database does not exist yet, for read commands.
bool require_db(const Globals& g);

}  // namespace dmarq::cli
