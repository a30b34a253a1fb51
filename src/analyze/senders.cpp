// Known senders from the TOML config. toml++ parses; this file only checks
// what the [senders.NAME] tables hold and turns every problem into one
// ConfigError with "origin:line:column:" in front, like a compiler, so that a
// user can jump to the offending value.
#include "dmarq/analyze/senders.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include <toml++/toml.h>

#include "config/toml_util.h"
#include "dmarq/analyze/domain.h"

namespace dmarq::analyze {

namespace {

using config::quoted;
using config::trim;
using config::type_name;

// ::ffff:0:0/96, where IPv4 addresses live in the 16-byte form.
bool is_mapped(const std::array<uint8_t, 16>& b) {
  for (int i = 0; i < 10; ++i)
    if (b[i] != 0) return false;
  return b[10] == 0xff && b[11] == 0xff;
}

void mask_to(std::array<uint8_t, 16>& b, int bits) {
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(bits - 8 * i, 0, 8);
    b[i] = static_cast<uint8_t>(b[i] & (0xff00u >> keep));
  }
}

// A value we could ever match against a name seen in a report: LDH labels
// plus '_' (for "_spf." names), or UTF-8 for U-labels. Anything else (a space,
// "*", "@", an empty label) would silently never match, so it is refused.
bool is_domain_value(const std::string& d) {
  if (d.empty() || d.size() > 253) return false;
  std::size_t label = 0;
  for (char c : d) {
    auto u = static_cast<unsigned char>(c);
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || u >= 0x80;
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

class Checker {
 public:
  explicit Checker(const std::string& origin) : origin_(origin) {}

  [[noreturn]] void fail(const toml::source_region& where, const std::string& what) const {
    config::fail(origin_, where, what);
  }

  // The strings of `node`, which must be an array of non-empty strings.
  std::vector<std::string_view> strings(const toml::node& node, const std::string& path) const {
    const toml::array* array = node.as_array();
    if (!array) fail(node.source(), path + ": expected an array of strings, found " + type_name(node));
    std::vector<std::string_view> out;
    for (const toml::node& element : *array) {
      const auto* s = element.as_string();
      if (!s) fail(element.source(), path + ": expected a string, found " + type_name(element));
      std::string_view text = trim(s->get());
      if (text.empty()) fail(element.source(), path + ": empty string");
      out.push_back(text);
    }
    return out;
  }

  std::vector<Cidr> cidrs(const toml::node& node, const std::string& path) const {
    std::vector<Cidr> out;
    const auto texts = strings(node, path);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      auto cidr = parse_cidr(texts[i]);
      if (!cidr) fail((*node.as_array())[i].source(), path + ": " + quoted(texts[i]) + " is not an IP address or CIDR");
      out.push_back(*cidr);
    }
    return out;
  }

  std::vector<std::string> domains(const toml::node& node, const std::string& path) const {
    std::vector<std::string> out;
    const auto texts = strings(node, path);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      std::string d = normalize_domain(texts[i]);
      if (!is_domain_value(d)) fail((*node.as_array())[i].source(), path + ": " + quoted(texts[i]) + " is not a domain name");
      out.push_back(std::move(d));
    }
    return out;
  }

 private:
  const std::string& origin_;
};

Sender read_sender(const Checker& check, const std::string& name, const toml::table& table) {
  Sender sender;
  sender.name = name;
  const std::string prefix = "senders." + name;
  for (auto&& [key, value] : table) {
    const std::string path = prefix + "." + std::string(key.str());
    if (key.str() == "ips")
      sender.ips = check.cidrs(value, path);
    else if (key.str() == "ptr_suffixes")
      sender.ptr_suffixes = check.domains(value, path);
    else if (key.str() == "dkim_domains")
      sender.dkim_domains = check.domains(value, path);
    else if (key.str() == "spf_includes")
      sender.spf_includes = check.domains(value, path);
    else
      check.fail(key.source(), prefix + ": unknown key " + quoted(key.str()) +
                                   " (expected ips, ptr_suffixes, dkim_domains or spf_includes)");
  }
  // A sender that can never match is a mistake (a typo'd or forgotten list),
  // not something to carry silently into every report.
  if (sender.ips.empty() && sender.ptr_suffixes.empty() && sender.dkim_domains.empty() && sender.spf_includes.empty())
    check.fail(table.source(), prefix + ": matches nothing (list at least one of ips, ptr_suffixes, dkim_domains, "
                                        "spf_includes)");
  return sender;
}

bool any_under(const std::vector<std::string>& names, const std::string& suffix) {
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) { return domain_is_under(n, suffix); });
}

}  // namespace

bool Cidr::contains(const model::IpAddress& ip) const {
  int n = std::clamp(bits, 0, 128);
  // Compare families first: "::/0" must not swallow every IPv4 address, nor
  // an IPv4 range match an IPv6 address, even though both are 16 bytes here.
  bool range_mapped = n >= 96 && is_mapped(base.bytes);
  if (is_mapped(ip.bytes) != range_mapped) return false;
  for (int i = 0; i < 16 && n > 0; ++i, n -= 8) {
    unsigned mask = 0xff00u >> std::min(n, 8);
    if ((ip.bytes[i] & mask & 0xff) != (base.bytes[i] & mask & 0xff)) return false;
  }
  return true;
}

std::string Cidr::to_string() const {
  std::string out = base.to_string();
  if (bits < 128) out += "/" + std::to_string(base.v4 && bits >= 96 ? bits - 96 : bits);
  return out;
}

std::optional<Cidr> parse_cidr(std::string_view text) {
  std::size_t slash = text.find('/');
  auto ip = model::parse_ip(text.substr(0, slash));
  if (!ip) return std::nullopt;
  Cidr cidr;
  cidr.base = *ip;
  cidr.bits = 128;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    int n = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + (c - '0');
    }
    if (n > (ip->v4 ? 32 : 128)) return std::nullopt;
    cidr.bits = ip->v4 ? 96 + n : n;
  }
  mask_to(cidr.base.bytes, cidr.bits);
  return cidr;
}

std::optional<SenderMatch> Senders::match(const SourceFacts& facts) const {
  for (const Sender& s : list_) {
    if (facts.ip)
      for (const Cidr& c : s.ips)
        if (c.contains(*facts.ip)) return SenderMatch{&s, "ip", c.to_string()};
    for (const std::string& v : s.ptr_suffixes)
      if (any_under(facts.ptr_names, v)) return SenderMatch{&s, "ptr", v};
    for (const std::string& v : s.dkim_domains)
      if (any_under(facts.dkim_domains, v)) return SenderMatch{&s, "dkim", v};
    for (const std::string& v : s.spf_includes)
      if (any_under(facts.spf_includes, v)) return SenderMatch{&s, "spf", v};
  }
  return std::nullopt;
}

Senders parse_senders(std::string_view text, const std::string& origin) {
  Checker check(origin);
  toml::table root = config::parse_toml(text, origin);

  const toml::node* node = root.get("senders");
  if (!node) return {};
  const toml::table* senders = node->as_table();
  if (!senders) check.fail(node->source(), "senders: expected [senders.NAME] tables, found " + type_name(*node));

  // toml++ keeps keys sorted; the position of each table restores file order,
  // which decides who wins when two senders match the same source.
  struct Placed {
    uint32_t line, column;
    Sender sender;
  };
  std::vector<Placed> placed;
  for (auto&& [key, value] : *senders) {
    std::string name(key.str());
    if (trim(name).empty()) check.fail(key.source(), "senders: a sender needs a non-empty name");
    const toml::table* table = value.as_table();
    if (!table) check.fail(value.source(), "senders." + name + ": expected a table, found " + type_name(value));
    placed.push_back({value.source().begin.line, value.source().begin.column, read_sender(check, name, *table)});
  }
  std::stable_sort(placed.begin(), placed.end(), [](const Placed& a, const Placed& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  std::vector<Sender> list;
  list.reserve(placed.size());
  for (Placed& p : placed) list.push_back(std::move(p.sender));
  return Senders(std::move(list));
}

Senders load_senders(const std::string& path) { return parse_senders(config::read_config_file(path), path); }

}  // namespace dmarq::analyze
