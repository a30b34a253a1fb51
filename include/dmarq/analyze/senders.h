// Known senders: the `[senders.NAME]` tables of the TOML config file.
//
//   [senders.office]
//   ips = ["192.0.2.10", "2001:db8::/32"]         # addresses and CIDRs, v4 and v6
//   ptr_suffixes = ["mail.example.net"]          # verified reverse DNS names
//   dkim_domains = ["example.com", "esp.example"] # DKIM d= domains
//   spf_includes = ["_spf.esp.example"]          # SPF include domains
//
// A source matches a sender when any one of the listed things matches it.
// A ptr, dkim or spf value matches that name and any name under it, on label
// boundaries (`evil-example.com` is not under `example.com`),
// case-insensitive, trailing dot ignored. A sender that lists nothing at all
// is an error, as is any key other than these four.
//
// Failure mode: load_senders throws ConfigError naming the file, line and
// key for a malformed file or value; it never accepts a value it cannot use.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "dmarq/config/config_file.h"
#include "dmarq/model/ip.h"

namespace dmarq::analyze {

using ConfigError = config::ConfigError;

// IPv4 ranges live in ::ffff:0:0/96 like IPv4 addresses, and the families
// never cross: an IPv6 range (even ::/0) matches no IPv4 address, and an IPv4
// range no IPv6 address.
struct Cidr {
  model::IpAddress base;  // masked to `bits`
  int bits = 128;         // prefix length over the 16-byte form (IPv4: 96 + n)
  bool contains(const model::IpAddress& ip) const;
  std::string to_string() const;  // "192.0.2.0/24", "2001:db8::/32"
};
// "192.0.2.1", "192.0.2.0/24", "2001:db8::/32"; nullopt when malformed (bad
// address, prefix out of range, host bits set are allowed and masked off).
std::optional<Cidr> parse_cidr(std::string_view text);

struct Sender {
  std::string name;
  std::vector<Cidr> ips;
  std::vector<std::string> ptr_suffixes;   // normalized
  std::vector<std::string> dkim_domains;   // normalized
  std::vector<std::string> spf_includes;   // normalized
};

// What is known about one source when matching it.
struct SourceFacts {
  std::optional<model::IpAddress> ip;
  std::vector<std::string> ptr_names;     // verified reverse DNS names, if known
  std::vector<std::string> dkim_domains;  // d= of DKIM results that passed
  std::vector<std::string> spf_includes;  // include: domains that authorized the IP, if known
};

// How a source matched a sender: the kind ("ip", "ptr", "dkim", "spf") and
// the configured value that matched ("192.0.2.0/24", "esp.example", ...).
struct SenderMatch {
  const Sender* sender = nullptr;
  std::string kind;
  std::string value;
};

class Senders {
 public:
  Senders() = default;
  explicit Senders(std::vector<Sender> list) : list_(std::move(list)) {}
  const std::vector<Sender>& list() const { return list_; }
  // The first sender (in file order) that matches, checking ip, then ptr,
  // then dkim, then spf for each sender in turn; nullopt when none does.
  std::optional<SenderMatch> match(const SourceFacts& facts) const;

 private:
  std::vector<Sender> list_;
};

// Reads the [senders.*] tables of a TOML document; `origin` names it in
// errors. Other top-level tables are ignored (they belong to other features).
Senders parse_senders(std::string_view toml, const std::string& origin);
// Reads the file; a missing file is an error (the caller decides whether a
// config is optional).
Senders load_senders(const std::string& path);

}  // namespace dmarq::analyze
