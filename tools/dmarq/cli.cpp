#include "cli.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "dmarq/imap/account.h"
#include "dmarq/output/escape.h"
#include "dmarq/util/text.h"

namespace dmarq::cli {

namespace {

// $OVERRIDE, else $XDG_VAR/dmarq/LEAF, else ~/HOME_DIR/dmarq/LEAF (the XDG
// base directory defaults), else ./dmarq/LEAF.
std::string xdg_path(const char* override_var, const char* xdg_var, const char* home_dir, const char* leaf) {
  if (const char* env = std::getenv(override_var); env && *env) return env;
  std::string base;
  if (const char* xdg = std::getenv(xdg_var); xdg && *xdg) {
    base = xdg;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    base = std::string(home) + "/" + home_dir;
  } else {
    base = ".";
  }
  return base + "/dmarq/" + leaf;
}

}  // namespace

std::string default_db_path() { return xdg_path("DMARQ_DB", "XDG_DATA_HOME", ".local/share", "dmarq.sqlite"); }

std::string default_config_path() { return xdg_path("DMARQ_CONFIG", "XDG_CONFIG_HOME", ".config", "config.toml"); }

int64_t now_utc() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

std::optional<int64_t> parse_since(const std::string& text, int64_t now) {
  if (text.size() >= 2 && text.back() == 'd') {
    try {
      std::size_t used = 0;
      long days = std::stol(text.substr(0, text.size() - 1), &used);
      if (used == text.size() - 1 && days >= 0) return now - days * 86400;
    } catch (const std::exception&) {
    }
    return std::nullopt;
  }
  return util::parse_iso_utc(text);
}

std::optional<store::ReportFilter> make_filter(const std::optional<std::string>& domain,
                                               const std::optional<std::string>& since) {
  store::ReportFilter filter;
  filter.domain = domain;
  if (since) {
    filter.since = parse_since(*since, now_utc());
    if (!filter.since) {
      complain("--since: expected Nd, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, got " + *since);
      return std::nullopt;
    }
  }
  return filter;
}

void complain(const std::string& message) { std::cerr << "dmarq: " << output::terminal_safe(message) << '\n'; }

std::string db_password(const Globals& g, const std::string& db) {
  std::error_code ec;
  if (store::is_postgres_url(db) && std::filesystem::exists(g.config, ec))
    if (auto secret = imap::load_database_secret(g.config)) return imap::read_password(*secret);
  return {};
}

std::unique_ptr<store::Store> open_db(const Globals& g, store::OpenMode mode, const std::string& db) {
  const std::string& target = db.empty() ? g.db : db;
  return store::open_store(target, mode, db_password(g, target));
}

bool require_db(const Globals& g) {
  if (store::is_postgres_url(g.db) || std::filesystem::exists(g.db)) return true;
  complain("no database at " + g.db + "; run 'dmarq ingest' first or pass --db");
  return false;
}

}  // namespace dmarq::cli
