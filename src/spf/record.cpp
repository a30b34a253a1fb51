// SPF record syntax (RFC 7208 sections 4.5, 4.6 and 12): telling a record
// from other TXT strings, selecting a domain's one record, splitting it into terms and checking each term
// against the grammar. The whole record is checked before anything is
// evaluated (RFC 7208 4.6: a syntax error anywhere is a permerror), and every
// error names its term, because that is what a domain owner has to fix.
#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "dmarq/util/text.h"
#include "spf/detail.h"

namespace dmarq::spf {

namespace {

using detail::Directive;
using detail::Kind;

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
// RFC 7208 4.6.1: name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
bool is_name_char(char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; }

// Terms are quoted in messages; a hostile record's term may be kilobytes.
std::string shown(std::string_view text) {
  constexpr std::size_t kMax = 80;
  if (text.size() <= kMax) return std::string(text);
  return std::string(text.substr(0, kMax)) + "...";
}

Term make_term(std::string_view token) {
  Term t;
  t.text = std::string(token);
  // A modifier is a name directly followed by '='; anything else is a
  // mechanism, possibly a bad one.
  if (is_alpha(token.front())) {
    std::size_t i = 1;
    while (i < token.size() && is_name_char(token[i])) ++i;
    if (i < token.size() && token[i] == '=') {
      t.modifier = true;
      t.name = util::to_lower_ascii(token.substr(0, i));
      t.value = std::string(token.substr(i + 1));
      return t;
    }
  }
  std::size_t p = 0;
  if (std::string_view("+-~?").find(token.front()) != std::string_view::npos) {
    t.qualifier = token.front();
    p = 1;
  }
  std::size_t q = p;
  while (q < token.size() && is_alnum(token[q])) ++q;
  t.name = util::to_lower_ascii(token.substr(p, q - p));
  std::string_view rest = token.substr(q);
  if (!rest.empty() && rest.front() == ':') rest.remove_prefix(1);
  t.value = std::string(rest);
  return t;
}

// What follows the mechanism name, ':' included: "" for "a", ":x/24" for
// "a:x/24", "/24" for "a/24".
std::string_view after_name(const Term& t) {
  std::string_view text = t.text;
  if (!text.empty() && std::string_view("+-~?").find(text.front()) != std::string_view::npos) text.remove_prefix(1);
  return text.substr(std::min(t.name.size(), text.size()));
}

// ip4-cidr-length / ip6-cidr-length digits: no leading zero (as in
// ip4-network), at most `max`.
bool parse_prefix(std::string_view digits, int max, int& out) {
  if (digits.empty() || digits.size() > 3) return false;
  if (digits.size() > 1 && digits.front() == '0') return false;
  if (!std::all_of(digits.begin(), digits.end(), is_digit)) return false;
  int v = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (v > max) return false;
  out = v;
  return true;
}

// Splits "domain-spec[/n][//m]" from the right: the domain-spec may itself
// hold '/' (RFC 7208 7.1 allows any visible character), so only a trailing
// run of digits after "/" or "//" is a prefix length.
bool split_dual_cidr(std::string_view v, std::string_view& spec, Directive& d, std::string& why) {
  std::size_t end = v.size();
  auto digits_before = [&](std::size_t pos) {
    std::size_t s = pos;
    while (s > 0 && is_digit(v[s - 1])) --s;
    return s;
  };
  std::size_t s = digits_before(end);
  if (s < end && s >= 2 && v[s - 1] == '/' && v[s - 2] == '/') {
    if (!parse_prefix(v.substr(s, end - s), 128, d.cidr6)) {
      why = "has an IPv6 prefix length that is not 0 to 128";
      return false;
    }
    end = s - 2;
  }
  s = digits_before(end);
  if (s < end && s >= 1 && v[s - 1] == '/' && (s < 2 || v[s - 2] != '/')) {
    if (!parse_prefix(v.substr(s, end - s), 32, d.cidr4)) {
      why = "has an IPv4 prefix length that is not 0 to 32";
      return false;
    }
    end = s - 1;
  }
  spec = v.substr(0, end);
  return true;
}

bool looks_like_ipv4(std::string_view s) {
  auto ip = model::parse_ip(s);
  return ip && ip->v4;
}

bool take_domain_spec(std::string_view spec, bool required, Directive& d, std::string& why) {
  if (spec.empty()) {
    if (!required) return true;
    why = "needs a domain name";
    return false;
  }
  if (looks_like_ipv4(spec)) {
    why = "names an IP address where a domain name belongs (use ip4: for addresses)";
    return false;
  }
  if (!detail::valid_domain_spec(spec, why)) return false;
  d.domain_spec = std::string(spec);
  return true;
}

bool take_network(std::string_view rest, bool v4, Directive& d, std::string& why) {
  if (rest.empty() || rest.front() != ':') {
    why = v4 ? "needs an IPv4 address (ip4:192.0.2.0/24)" : "needs an IPv6 address (ip6:2001:db8::/32)";
    return false;
  }
  rest.remove_prefix(1);
  std::string_view addr = rest, len;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    addr = rest.substr(0, slash);
    len = rest.substr(slash + 1);
  }
  auto ip = model::parse_ip(addr);
  if (!ip || ip->v4 != v4) {
    why = v4 ? "does not hold a complete IPv4 address" : "does not hold an IPv6 address";
    return false;
  }
  d.network = *ip;
  if (addr.size() != rest.size()) {
    bool ok = v4 ? parse_prefix(len, 32, d.cidr4) : parse_prefix(len, 128, d.cidr6);
    if (!ok) {
      why = v4 ? "has an IPv4 prefix length that is not 0 to 32" : "has an IPv6 prefix length that is not 0 to 128";
      return false;
    }
  }
  return true;
}

std::optional<Directive> take_modifier(const Term& t, std::string& why) {
  Directive d;
  if (t.name == "redirect" || t.name == "exp") {
    d.kind = t.name == "redirect" ? Kind::redirect : Kind::exp;
    if (!take_domain_spec(t.value, true, d, why)) return std::nullopt;
    return d;
  }
  d.kind = Kind::unknown_modifier;
  if (!detail::valid_macro_string(t.value, why)) return std::nullopt;
  return d;
}

std::optional<Directive> take_mechanism(const Term& t, std::string& why) {
  Directive d;
  d.qualifier = t.qualifier;
  std::string_view rest = after_name(t);
  const std::string& n = t.name;
  if (n == "all") {
    d.kind = Kind::all;
    if (!rest.empty()) {
      why = "takes no value";
      return std::nullopt;
    }
    return d;
  }
  if (n == "include" || n == "exists") {
    d.kind = n == "include" ? Kind::include : Kind::exists;
    if (rest.empty() || rest.front() != ':') {
      why = "needs a domain name after ':'";
      return std::nullopt;
    }
    if (!take_domain_spec(rest.substr(1), true, d, why)) return std::nullopt;
    return d;
  }
  if (n == "a" || n == "mx") {
    d.kind = n == "a" ? Kind::a : Kind::mx;
    if (rest.empty()) return d;
    if (rest.front() != ':' && rest.front() != '/') {
      why = "is not a known mechanism";
      return std::nullopt;
    }
    bool named = rest.front() == ':';
    std::string_view spec;
    if (!split_dual_cidr(named ? rest.substr(1) : rest, spec, d, why)) return std::nullopt;
    if (!named && !spec.empty()) {
      why = "has a bad prefix length (a/24, a//64 or a/24//64)";
      return std::nullopt;
    }
    if (named && !take_domain_spec(spec, true, d, why)) return std::nullopt;
    return d;
  }
  if (n == "ptr") {
    d.kind = Kind::ptr;
    if (rest.empty()) return d;
    if (rest.front() != ':') {
      why = rest.front() == '/' ? "takes no prefix length" : "is not a known mechanism";
      return std::nullopt;
    }
    if (!take_domain_spec(rest.substr(1), true, d, why)) return std::nullopt;
    return d;
  }
  if (n == "ip4" || n == "ip6") {
    d.kind = n == "ip4" ? Kind::ip4 : Kind::ip6;
    if (!take_network(rest, n == "ip4", d, why)) return std::nullopt;
    return d;
  }
  why = "is not a known mechanism";
  return std::nullopt;
}

}  // namespace

std::string_view result_name(Result r) {
  switch (r) {
    case Result::none: return "none";
    case Result::neutral: return "neutral";
    case Result::pass: return "pass";
    case Result::fail: return "fail";
    case Result::softfail: return "softfail";
    case Result::temperror: return "temperror";
    case Result::permerror: return "permerror";
  }
  return "none";
}

bool is_spf_record(std::string_view txt) {
  constexpr std::string_view kVersion = "v=spf1";
  if (txt.size() < kVersion.size() || !util::iequals(txt.substr(0, kVersion.size()), kVersion)) return false;
  return txt.size() == kVersion.size() || txt[kVersion.size()] == ' ';
}

namespace detail {

std::optional<Directive> take_apart(const Term& term, std::string& why) {
  return term.modifier ? take_modifier(term, why) : take_mechanism(term, why);
}

bool counts_as_lookup(Kind kind) {
  return kind == Kind::include || kind == Kind::a || kind == Kind::mx || kind == Kind::ptr ||
         kind == Kind::exists || kind == Kind::redirect;
}

std::string normalize(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return util::to_lower_ascii(name);
}

// RFC 7208 leaves a mechanism target that is no DNS name (an empty label, a
// label over 63) undefined; check_host() treats it as a name that does not
// exist (no query, no match), one of the two results the test suite accepts.
bool queryable(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (++label > 63) {
      return false;
    }
  }
  return label > 0;
}

bool valid_check_domain(std::string_view domain) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (!queryable(domain) || domain.find('.') == std::string_view::npos) return false;
  if (domain.front() == '[') return false;
  for (char c : domain) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  std::string_view top = domain.substr(domain.rfind('.') + 1);
  return !std::all_of(top.begin(), top.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string failure_detail(const dns::Answer& a) {
  if (a.status == dns::Status::offline) return "offline: no query was made";
  return a.detail.empty() ? "temporary failure" : a.detail;
}

Selected select_record(dns::Resolver& dns, const std::string& domain) {
  Selected s;
  dns::Answer a = dns.lookup(domain, dns::Type::txt);
  if (a.status == dns::Status::temporary || a.status == dns::Status::offline) {
    s.status = Selected::temporary;
    s.detail = failure_detail(a);
    return s;
  }
  if (a.status != dns::Status::ok) return s;  // nxdomain, nodata: none
  // Other TXT records (site verifications, garbage bytes) are not ours.
  int count = 0;
  for (const auto& txt : a.data)
    if (is_spf_record(txt)) {
      if (++count == 1) s.record = txt;
    }
  s.status = count == 0 ? Selected::none : count == 1 ? Selected::found : Selected::multiple;
  return s;
}

}  // namespace detail

std::optional<Record> parse_record(std::string_view text, std::string& error) {
  if (!is_spf_record(text)) {
    error = "The record does not start with \"v=spf1\" followed by a space or its end.";
    return std::nullopt;
  }
  Record record;
  bool seen_redirect = false, seen_exp = false;
  std::string_view rest = text.substr(6);
  // RFC 7208 4.6.1: terms are separated by spaces and only spaces; a TAB or
  // CR inside the record stays in its term and fails the grammar there.
  while (!rest.empty()) {
    std::size_t space = rest.find(' ');
    std::string_view token = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
    if (token.empty()) continue;
    Term term = make_term(token);
    std::string why;
    auto d = detail::take_apart(term, why);
    if (!d) {
      error = fmt::format("The term \"{}\" {}.", shown(token), why);
      return std::nullopt;
    }
    bool& seen = d->kind == Kind::redirect ? seen_redirect : seen_exp;
    if (d->kind == Kind::redirect || d->kind == Kind::exp) {
      if (seen) {
        error = fmt::format("The record has more than one \"{}=\" modifier (the second is \"{}\").", term.name,
                            shown(token));
        return std::nullopt;
      }
      seen = true;
    }
    record.terms.push_back(std::move(term));
  }
  return record;
}

}  // namespace dmarq::spf
