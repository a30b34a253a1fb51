// Shared pieces of the dmarq command line: global options, exit codes, and
// the helpers every subcommand uses. The CLI is glue: it parses options,
// calls the library, prints, and maps outcomes to exit codes.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dmarq/analyze/analyzer.h"
#include "dmarq/dns/resolver.h"
#include "dmarq/store/store.h"

namespace dmarq::cli {

// Exit codes cron and scripts can act on.
enum ExitCode : int {
  kOk = 0,         // everything done (duplicates count as done)
  kRejected = 1,   // some inputs were rejected and set aside; the rest is done
  kUsage = 2,      // usage, configuration or environment error
  kNotReady = 3,   // readiness --fail-if-not-ready: the verdict is "not ready"
  kLocked = 75,    // EX_TEMPFAIL: another ingest holds the database
  kTempFail = 75,  // EX_TEMPFAIL: the IMAP server could not be reached or timed out
};

struct Globals {
  std::string db;      // resolved database path
  std::string config;  // resolved config path
  bool config_explicit = false;  // given with --config or $DMARQ_CONFIG: must exist
  bool verbose = false;
};

// $DMARQ_CONFIG, else $XDG_CONFIG_HOME/dmarq/config.toml, else
// ~/.config/dmarq/config.toml.
std::string default_config_path();

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
void add_analyze(CLI::App& app, Globals& g, Action& run);
void add_feedback(CLI::App& app, Globals& g, Action& run);
// `dmarq export feedback` and `dmarq export bounces`, under `export_cmd`.
void add_export_feedback(CLI::App* export_cmd, Globals& g, Action& run);

// The analyzer's period from --since (Nd or a date) and --until (a date,
// included), both whole UTC days; nullopt after saying what is wrong.
std::optional<analyze::Period> make_period(const std::string& since, const std::optional<std::string>& until);

// The store, senders and analyzer of the read commands. Heap-held parts, so
// that moving it keeps the references the analyzer holds valid.
struct AnalyzeContext {
  std::unique_ptr<store::Store> db;
  std::unique_ptr<analyze::Senders> senders;
  std::unique_ptr<analyze::Analyzer> analyzer;
};
// nullopt after saying why (no database, a bad config).
std::optional<AnalyzeContext> open_context(const Globals& g);

// dmarq sources, shared with dmarq export sources.
struct SourcesOptions {
  std::string domain;
  std::string since = "30d";
  std::optional<std::string> until;
  std::string by = "ip";
  bool unknown = false;
  std::string format = "table";
};
void add_sources_options(CLI::App* cmd, SourcesOptions& o, bool table);
int run_sources(const Globals& g, const SourcesOptions& o, std::ostream& out);

// DNS options of check, spf, enrich and ingest --enrich (cmd_dns.cpp).
struct DnsOptions {
  std::vector<std::string> resolvers;
  bool offline = false;
  double timeout = 3.0;  // seconds per query, all tries
  std::size_t concurrency = 64;
};
void add_dns_options(CLI::App* cmd, DnsOptions& o);
struct DnsContext {
  std::unique_ptr<dns::Resolver> upstream;  // c-ares, or offline
  std::unique_ptr<dns::Resolver> cached;    // upstream behind the database cache, when there is a database
  dns::Resolver& resolver();
};
// The resolver for a command; nullopt after saying why (a bad --resolver).
// With `create_db` the database is created for the cache when missing.
std::optional<DnsContext> make_dns(const Globals& g, const DnsOptions& o, bool create_db);
void add_dns_commands(CLI::App& app, Globals& g, Action& run);
// Readiness's SPF question (cmd_analyze.cpp): does this address pass the
// domain's live SPF record once "all" is "-all"? One lookup per address and
// domain; `dns` must outlive the predictor.
analyze::SpfPredictor spf_predictor(DnsContext& dns);
void add_html(CLI::App& app, Globals& g, Action& run);
void add_migrate(CLI::App& app, Globals& g, Action& run);
// dmarq enrich, also run by ingest --enrich after its commits.
int run_enrich(const Globals& g, const DnsOptions& dns, const store::ReportFilter& filter);

// Prints "dmarq: <message>" to stderr, terminal-safe.
void complain(const std::string& message);

// Fails (exit 2) when the database does not exist yet, for read commands.
bool require_db(const Globals& g);
// Opens --db (or `db`), with the [database] password of the config file for
// a PostgreSQL URL when it has one.
std::unique_ptr<store::Store> open_db(const Globals& g, store::OpenMode mode, const std::string& db = {});
// That password: the config's [database] secret for a PostgreSQL URL, else
// empty (libpq then reads PGPASSFILE or ~/.pgpass).
std::string db_password(const Globals& g, const std::string& db);

}  // namespace dmarq::cli
