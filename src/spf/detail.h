// What the SPF files share and the public header does not show: a term taken
// apart into the pieces evaluation needs, name checks and record selection,
// and macro expansion (RFC 7208 section 7). parse_record() and check_host() both take terms apart through
// take_apart(), so that what parses is exactly what evaluates.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "dmarq/dns/resolver.h"
#include "dmarq/model/ip.h"
#include "dmarq/spf/spf.h"

namespace dmarq::spf::detail {

enum class Kind { all, include, a, mx, ptr, ip4, ip6, exists, redirect, exp, unknown_modifier };

// A term with its syntax checked and its value split.
struct Directive {
  Kind kind = Kind::all;
  char qualifier = '+';
  std::string domain_spec;  // as written, macros unexpanded; empty = the current domain (a, mx, ptr)
  int cidr4 = 32;           // a, mx, ip4
  int cidr6 = 128;          // a, mx, ip6
  model::IpAddress network; // ip4, ip6
};

// Nullopt when the term's syntax is bad; `why` is then the rest of a sentence
// that starts with the term ("has an IPv4 prefix length over 32").
std::optional<Directive> take_apart(const Term& term, std::string& why);

// True for the terms that cost a DNS lookup (RFC 7208 4.6.4).
bool counts_as_lookup(Kind kind);

// --- Names and record selection ---------------------------------------------

// Nesting of includes and redirects allowed whatever the lookup limit, so a
// caller that raises the limit cannot have the stack exhausted.
constexpr int kMaxDepth = 32;

// Names compare without case and without a trailing dot.
std::string normalize(std::string_view name);

// Something a DNS query can be made for: 1 to 63 characters per label, 253
// in all.
bool queryable(std::string_view name);

// RFC 7208 4.3: check_host() on a malformed or single-label domain (or an
// address literal) is "none" without any query.
bool valid_check_domain(std::string_view domain);

// RFC 7208 4.5: the one "v=spf1" record among a domain's TXT records.
struct Selected {
  enum { found, none, multiple, temporary } status = none;
  std::string record;
  std::string detail;  // temporary: what went wrong
};
Selected select_record(dns::Resolver& dns, const std::string& domain);

// What a temporary or offline answer says went wrong.
std::string failure_detail(const dns::Answer& a);

// --- Macros -----------------------------------------------------------------

// Checks a domain-spec (RFC 7208 7.1): a macro-string whose end is either a
// macro or "." and a top label. c, r and t belong to explanation text only.
bool valid_domain_spec(std::string_view spec, std::string& why);
// Checks the macro-string of an unknown modifier (every macro letter allowed).
bool valid_macro_string(std::string_view text, std::string& why);

// What the macros of one check_host() call expand to.
struct MacroContext {
  std::string sender;         // s: local@domain
  std::string local_part;     // l
  std::string sender_domain;  // o
  std::string domain;         // d: the domain whose record is evaluated
  model::IpAddress ip;        // i and v; IPv4-mapped addresses already as IPv4
  std::string helo;           // h
  // p: the validated name of ip; computed only if a record asks for it,
  // because it costs DNS lookups.
  std::function<std::string(const std::string& domain)> validated_name;
};

// Expands a domain-spec already accepted by valid_domain_spec() and applies
// RFC 7208 7.3: a name over 253 characters loses labels from the left. A
// single trailing dot is dropped. Nullopt (with `why`) only when the
// expansion would be absurdly long, which no honest record causes.
std::optional<std::string> expand_domain_spec(std::string_view spec, const MacroContext& ctx, std::string& why);

// "192.0.2.3", or "2.0.0.1.0.d.b.8..." (32 nibbles) for IPv6: the %{i} form.
std::string macro_ip(const model::IpAddress& ip);

}  // namespace dmarq::spf::detail
