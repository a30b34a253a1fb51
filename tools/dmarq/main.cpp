// dmarq: DMARC aggregate report processor. See README.md.
#include <cstdlib>
#include <iostream>

#include "cli.h"
#include "dmarq/store/store.h"

int main(int argc, char** argv) {
  using namespace dmarq::cli;
  CLI::App app{"dmarq: ingest DMARC aggregate reports into SQLite or PostgreSQL and answer who sends as your domain."};
  app.set_version_flag("--version", "dmarq " DMARQ_VERSION);
  app.require_subcommand(1);
  app.fallthrough();

  Globals g;
  g.db = default_db_path();
  app.add_option("--db", g.db,
                 "SQLite database path (or sqlite:PATH), or a postgresql:// URL whose password is in ~/.pgpass "
                 "(default: $DMARQ_DB or ~/.local/share/dmarq/dmarq.sqlite)")
      ->capture_default_str();
  g.config = default_config_path();
  if (const char* env = std::getenv("DMARQ_CONFIG"); env && *env) g.config_explicit = true;
  app.add_option("--config", g.config,
                 "TOML config with the known senders (default: $DMARQ_CONFIG or ~/.config/dmarq/config.toml)")
      ->capture_default_str()
      ->each([&g](const std::string&) { g.config_explicit = true; });
  app.add_flag("-v,--verbose", g.verbose, "Also print warnings and a summary");

  Action run;
  add_ingest(app, g, run);
  add_reports(app, g, run);
  add_export(app, g, run);
  add_rejects(app, g, run);
  add_analyze(app, g, run);
  add_feedback(app, g, run);
  add_dns_commands(app, g, run);
  add_html(app, g, run);
  add_migrate(app, g, run);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }
  // Commands use --db as a file path (lock, DNS cache, existence checks)
  // unless it is a URL, so "sqlite:PATH" becomes PATH once, here.
  if (!dmarq::store::is_postgres_url(g.db)) g.db = dmarq::store::sqlite_path(g.db);
  try {
    return run ? run() : kUsage;
  } catch (const dmarq::store::StoreError& e) {
    complain(std::string("database error: ") + e.what());
    // A deadlock that outlived its retries, or a server going away: cron
    // should try again later, as for a lock held by another ingest.
    return e.kind() == dmarq::store::StoreError::Kind::other ? kUsage : kTempFail;
  } catch (const std::exception& e) {
    complain(e.what());
    return kUsage;
  }
}
