// An IMAP account from the config file: the table [imap.NAME].
//
//   [imap.reports]
//   host = "imap.example.net"
//   port = 993                       # default 993 for implicit, 143 otherwise
//   tls = "implicit"                 # implicit | starttls | none (loopback only)
//   ca_file = "/etc/ssl/my-ca.pem"   # optional; the system CAs otherwise
//   user = "dmarc@example.net"
//   password_file = "/home/me/.dmarq-imap-password"   # or password_env / password_command
//   mailbox = "INBOX"
//   processed_folder = "INBOX/Processed"   # '/' separates levels; the server's
//   invalid_folder = "INBOX/Invalid"       #   own delimiter is used on the wire
//   search = "all"                   # all | unseen | since:YYYY-MM-DD
//   batch_size = 50
//   timeout_seconds = 60
//
// There is no password key and no password option: the password comes from
// a file (readable by its owner only), an environment variable, or the
// output of a command. tls = "none" is accepted only for a loopback address
// (127.0.0.0/8 or ::1) written as such.
//
// Failure mode: ConfigError naming the file, line and key. A config that
// names a password_command (which may carry a secret) must not be readable
// by group or others, and neither may a password_file: both are refused, as
// ssh refuses a private key anyone can read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "dmarq/config/config_file.h"

namespace dmarq::imap {

enum class TlsMode { implicit, starttls, none };

struct Account {
  std::string name;
  std::string table;  // the TOML table, for messages: "imap.NAME" or "database"
  std::string host;
  uint16_t port = 993;
  TlsMode tls = TlsMode::implicit;
  std::string ca_file;  // empty: the system's CAs
  std::string user;
  enum class PasswordFrom { file, env, command };
  PasswordFrom password_from = PasswordFrom::file;
  std::string password_source;  // the path, variable name or command
  std::string mailbox = "INBOX";
  std::string processed_folder;  // levels separated by '/'; default MAILBOX/Processed
  std::string invalid_folder;    // default MAILBOX/Invalid
  enum class Search { all, unseen, since };
  Search search = Search::all;
  int64_t since = 0;  // UTC midnight, for Search::since
  std::size_t batch_size = 50;
  int timeout_seconds = 60;
};

// Reads [imap.NAME] from the TOML text; `origin` names the file in errors.
Account parse_account(std::string_view toml, const std::string& origin, const std::string& name);
// Reads the file (checking its permissions when it holds a secret) and the account.
Account load_account(const std::string& path, const std::string& name);

// The password, from wherever the account says; ConfigError when it cannot
// be had (missing file or variable, loose permissions, failing command).
// A single trailing newline is dropped.
std::string read_password(const Account& account);

// The [database] table of the config at `path`: where the PostgreSQL
// password comes from, by the same rules as an account's (password_file,
// password_env or password_command, exactly one; no password key). nullopt
// when the file has none; read it with read_password.
std::optional<Account> load_database_secret(const std::string& path);

// The IMAP search criteria for the account's `search`.
std::string search_criteria(const Account& account);

}  // namespace dmarq::imap
