// [imap.NAME] accounts from the TOML config, checked key by key.
#include "dmarq/imap/account.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "config/toml_util.h"
#include "dmarq/model/ip.h"
#include "dmarq/util/text.h"

namespace dmarq::imap {
namespace {

using config::ConfigError;
using config::quoted;
using config::type_name;

constexpr std::size_t kMaxPassword = 4096;

class Reader {
 public:
  Reader(const std::string& origin, const std::string& prefix, const toml::table& table)
      : origin_(origin), prefix_(prefix), table_(table) {}

  [[noreturn]] void fail(const toml::node& at, const std::string& key, const std::string& what) const {
    config::fail(origin_, at.source(), prefix_ + "." + key + ": " + what);
  }
  [[noreturn]] void fail_table(const std::string& what) const {
    config::fail(origin_, table_.source(), prefix_ + ": " + what);
  }

  std::optional<std::string> string(const std::string& key) const {
    const toml::node* n = table_.get(key);
    if (!n) return std::nullopt;
    const auto* s = n->as_string();
    if (!s) fail(*n, key, "expected a string, found " + type_name(*n));
    std::string v(config::trim(s->get()));
    if (v.empty()) fail(*n, key, "empty string");
    for (char c : v)
      if (static_cast<unsigned char>(c) < 0x20) fail(*n, key, "control character in " + quoted(v));
    return v;
  }
  std::optional<int64_t> integer(const std::string& key, int64_t lo, int64_t hi) const {
    const toml::node* n = table_.get(key);
    if (!n) return std::nullopt;
    const auto* i = n->as_integer();
    if (!i) fail(*n, key, "expected an integer, found " + type_name(*n));
    int64_t v = i->get();
    if (v < lo || v > hi) fail(*n, key, fmt::format("{} is out of range ({} to {})", v, lo, hi));
    return v;
  }
  const toml::node& node(const std::string& key) const { return *table_.get(key); }

 private:
  const std::string& origin_;
  std::string prefix_;
  const toml::table& table_;
};

// Loopback as an address literal: a name could resolve anywhere.
bool is_loopback_literal(const std::string& host) {
  auto ip = model::parse_ip(host);
  if (!ip) return false;
  if (ip->v4) return ip->bytes[12] == 127;
  static constexpr std::array<uint8_t, 16> kOne{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return ip->bytes == kOne;
}

// Group or others may read it: refused for anything holding a secret.
bool readable_by_others(const std::string& path, std::string& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = std::string(std::strerror(errno));
    return false;
  }
  return (st.st_mode & (S_IRWXG | S_IRWXO)) != 0;
}

std::string mode_text(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "?";
  return fmt::format("{:04o}", st.st_mode & 07777);
}

// A config that names a password_command (which may carry a secret) must be
// readable by its owner only.
void refuse_loose_config(const Account& a, const std::string& path) {
  std::string error;
  if (a.password_from == Account::PasswordFrom::command && readable_by_others(path, error))
    throw ConfigError(fmt::format("{}: holds a password_command and is readable by group or others (mode {}); "
                                  "run: chmod 600 {}",
                                  path, mode_text(path), path));
}

}  // namespace

Account parse_account(std::string_view text, const std::string& origin, const std::string& name) {
  toml::table root = config::parse_toml(text, origin);
  const toml::node* imap = root.get("imap");
  if (!imap) throw ConfigError(origin + ": no [imap." + name + "] account");
  const toml::table* accounts = imap->as_table();
  if (!accounts) config::fail(origin, imap->source(), "imap: expected [imap.NAME] tables, found " + type_name(*imap));
  const toml::node* node = accounts->get(name);
  if (!node) throw ConfigError(origin + ": no [imap." + name + "] account");
  const toml::table* table = node->as_table();
  if (!table) config::fail(origin, node->source(), "imap." + name + ": expected a table, found " + type_name(*node));

  static const std::map<std::string, int> kKeys = {
      {"host", 0}, {"port", 0}, {"tls", 0}, {"ca_file", 0}, {"user", 0}, {"password_file", 0},
      {"password_env", 0}, {"password_command", 0}, {"mailbox", 0}, {"processed_folder", 0},
      {"invalid_folder", 0}, {"search", 0}, {"batch_size", 0}, {"timeout_seconds", 0}};
  Reader r(origin, "imap." + name, *table);
  for (auto&& [key, value] : *table) {
    std::string k(key.str());
    if (k == "password")
      r.fail(value, k, "a password is never kept in the config: use password_file, password_env or "
                       "password_command");
    if (!kKeys.count(k)) r.fail(value, k, "unknown key (see the README for [imap.NAME])");
  }

  Account a;
  a.name = name;
  a.table = "imap." + name;
  a.host = r.string("host").value_or("");
  if (a.host.empty()) r.fail_table("host is required");
  a.user = r.string("user").value_or("");
  if (a.user.empty()) r.fail_table("user is required");

  std::string tls = r.string("tls").value_or("implicit");
  if (tls == "implicit") a.tls = TlsMode::implicit;
  else if (tls == "starttls") a.tls = TlsMode::starttls;
  else if (tls == "none") a.tls = TlsMode::none;
  else r.fail(r.node("tls"), "tls", quoted(tls) + " is not implicit, starttls or none");
  if (a.tls == TlsMode::none && !is_loopback_literal(a.host))
    r.fail(r.node("tls"), "tls", "\"none\" (no TLS) is only allowed for a loopback address such as 127.0.0.1, not " +
                                     quoted(a.host));
  a.port = static_cast<uint16_t>(r.integer("port", 1, 65535).value_or(a.tls == TlsMode::implicit ? 993 : 143));
  a.ca_file = r.string("ca_file").value_or("");

  int sources = 0;
  if (auto f = r.string("password_file")) {
    a.password_from = Account::PasswordFrom::file;
    a.password_source = *f;
    ++sources;
  }
  if (auto e = r.string("password_env")) {
    a.password_from = Account::PasswordFrom::env;
    a.password_source = *e;
    ++sources;
  }
  if (auto c = r.string("password_command")) {
    a.password_from = Account::PasswordFrom::command;
    a.password_source = *c;
    ++sources;
  }
  if (sources != 1) r.fail_table("give exactly one of password_file, password_env and password_command");

  a.mailbox = r.string("mailbox").value_or("INBOX");
  a.processed_folder = r.string("processed_folder").value_or(a.mailbox + "/Processed");
  a.invalid_folder = r.string("invalid_folder").value_or(a.mailbox + "/Invalid");
  for (const auto* key : {"processed_folder", "invalid_folder"}) {
    const std::string& f = std::string(key) == "processed_folder" ? a.processed_folder : a.invalid_folder;
    if (f == a.mailbox || f.front() == '/' || f.back() == '/' || f.find("//") != std::string::npos)
      r.fail(table->get(key) ? r.node(key) : static_cast<const toml::node&>(*table), key,
             quoted(f) + " must name a folder other than the mailbox, with '/' between levels");
  }

  std::string search = r.string("search").value_or("all");
  if (search == "all") {
    a.search = Account::Search::all;
  } else if (search == "unseen") {
    a.search = Account::Search::unseen;
  } else if (search.rfind("since:", 0) == 0) {
    auto t = util::parse_iso_utc(search.substr(6));
    if (!t) r.fail(r.node("search"), "search", quoted(search) + ": expected since:YYYY-MM-DD");
    a.search = Account::Search::since;
    a.since = *t;
  } else {
    r.fail(r.node("search"), "search", quoted(search) + " is not all, unseen or since:YYYY-MM-DD");
  }
  a.batch_size = static_cast<std::size_t>(r.integer("batch_size", 1, 1000).value_or(50));
  a.timeout_seconds = static_cast<int>(r.integer("timeout_seconds", 1, 3600).value_or(60));
  return a;
}

Account load_account(const std::string& path, const std::string& name) {
  std::string text = config::read_config_file(path);
  Account a = parse_account(text, path, name);
  refuse_loose_config(a, path);
  return a;
}

std::optional<Account> load_database_secret(const std::string& path) {
  std::string text = config::read_config_file(path);
  toml::table root = config::parse_toml(text, path);
  const toml::node* node = root.get("database");
  if (!node) return std::nullopt;
  const toml::table* table = node->as_table();
  if (!table) config::fail(path, node->source(), "database: expected a table, found " + type_name(*node));
  Reader r(path, "database", *table);
  for (auto&& [key, value] : *table) {
    std::string k(key.str());
    if (k == "password")
      r.fail(value, k, "a password is never kept in the config: use password_file, password_env or "
                       "password_command");
    if (k != "password_file" && k != "password_env" && k != "password_command")
      r.fail(value, k, "unknown key (expected password_file, password_env or password_command)");
  }
  Account a;
  a.name = "database";
  a.table = "database";
  int sources = 0;
  for (auto [key, from] : {std::pair{"password_file", Account::PasswordFrom::file},
                           std::pair{"password_env", Account::PasswordFrom::env},
                           std::pair{"password_command", Account::PasswordFrom::command}})
    if (auto v = r.string(key)) {
      a.password_from = from;
      a.password_source = *v;
      ++sources;
    }
  if (sources != 1) r.fail_table("give exactly one of password_file, password_env and password_command");
  refuse_loose_config(a, path);
  return a;
}

std::string read_password(const Account& a) {
  std::string pw;
  switch (a.password_from) {
    case Account::PasswordFrom::file: {
      std::string error;
      bool loose = readable_by_others(a.password_source, error);
      if (!error.empty()) throw ConfigError(fmt::format("password_file {}: {}", a.password_source, error));
      if (loose)
        throw ConfigError(fmt::format("password_file {} is readable by group or others (mode {}); run: chmod 600 {}",
                                      a.password_source, mode_text(a.password_source), a.password_source));
      std::ifstream in(a.password_source, std::ios::binary);
      std::ostringstream bytes;
      if (!in || !(bytes << in.rdbuf())) throw ConfigError("password_file " + a.password_source + ": cannot read");
      pw = bytes.str();
      break;
    }
    case Account::PasswordFrom::env: {
      const char* v = std::getenv(a.password_source.c_str());
      if (!v) throw ConfigError("password_env: $" + a.password_source + " is not set");
      pw = v;
      break;
    }
    case Account::PasswordFrom::command: {
      // Through the shell, as the user wrote it (e.g. "pass show mail/dmarc").
      FILE* p = ::popen(a.password_source.c_str(), "r");
      if (!p) throw ConfigError("password_command: cannot run " + quoted(a.password_source));
      std::array<char, 512> buf{};
      std::size_t n;
      while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0 && pw.size() <= kMaxPassword) pw.append(buf.data(), n);
      int status = ::pclose(p);
      if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw ConfigError("password_command " + quoted(a.password_source) + " failed");
      break;
    }
  }
  if (!pw.empty() && pw.back() == '\n') pw.pop_back();
  if (!pw.empty() && pw.back() == '\r') pw.pop_back();
  if (pw.empty()) throw ConfigError("the password for [" + a.table + "] is empty");
  if (pw.size() > kMaxPassword) throw ConfigError("the password for [" + a.table + "] is unreasonably long");
  for (char c : pw)
    if (c == '\0' || c == '\r' || c == '\n')
      throw ConfigError("the password for [" + a.table + "] contains a line break or NUL");
  return pw;
}

std::string search_criteria(const Account& a) {
  switch (a.search) {
    case Account::Search::all: return "ALL";
    case Account::Search::unseen: return "UNSEEN";
    case Account::Search::since: {
      // RFC 3501 date: d-Mon-yyyy.
      static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
      std::string iso = util::iso_date_utc(a.since);  // YYYY-MM-DD
      int month = std::stoi(iso.substr(5, 2));
      return fmt::format("SINCE {}-{}-{}", std::stoi(iso.substr(8, 2)), kMonths[month - 1], iso.substr(0, 4));
    }
  }
  return "ALL";
}

}  // namespace dmarq::imap
