// SPF (RFC 7208) as an analysis engine: what a receiver would conclude for
// an address and a MAIL FROM domain, with a trace of how it got there, and
// what it would conclude once the domain tightens to "-all". Not a filter.
//
// Written here rather than taken from libspf2: libspf2 is unmaintained and
// has had CVEs, and an engine that explains itself is what dmarq needs.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dmarq/dns/resolver.h"
#include "dmarq/model/ip.h"

namespace dmarq::spf {

enum class Result { none, neutral, pass, fail, softfail, temperror, permerror };
std::string_view result_name(Result r);  // "none", "neutral", "pass", ...

struct Options {
  // Evaluate as if every "all" mechanism were "-all": what tightening to
  // -all would do (readiness uses this).
  bool strict_all = false;
  int max_dns_lookups = 10;  // RFC 7208 4.6.4
  int max_void_lookups = 2;  // RFC 7208 4.6.4
  std::string helo;          // %{h}; the domain when empty
  std::string receiver = "dmarq.invalid";  // %{r}
};

struct Evaluation {
  Result result = Result::none;
  std::string decided_by;          // the domain whose record decided (after include/redirect)
  std::string mechanism;           // the term that matched, as written ("ip4:192.0.2.0/24", "include:x", "-all"); empty if none
  std::vector<std::string> trace;  // one line per record fetched and term tried, two spaces per include level
  int dns_lookups = 0;             // terms that count toward max_dns_lookups
  int void_lookups = 0;
  std::string problem;             // for permerror and temperror: why, in one sentence
};

// check_host() of RFC 7208 section 4 for `ip` and `domain`; `sender` is the
// MAIL FROM address (or "postmaster@" + domain when it was empty).
Evaluation check_host(dns::Resolver& dns, const model::IpAddress& ip, const std::string& domain,
                      const std::string& sender, const Options& options = {});

// --- Records, for `dmarq check` ---------------------------------------------

struct Term {
  bool modifier = false;   // name=value (redirect, exp, unknown) rather than a mechanism
  char qualifier = '+';    // mechanisms: + - ~ ?
  std::string name;        // lower case: all, include, a, mx, ptr, ip4, ip6, exists, redirect, exp, ...
  std::string value;       // after ':' or '=' (domain-spec, address, CIDR lengths), as written
  std::string text;        // the whole term as written
};

struct Record {
  std::vector<Term> terms;
};

// True when `txt` is an SPF record: "v=spf1" (any case) then a space or the end.
bool is_spf_record(std::string_view txt);

// Parses a whole record ("v=spf1 ..."). On a syntax error returns nullopt and
// sets `error` to one sentence naming the bad term.
std::optional<Record> parse_record(std::string_view text, std::string& error);

// The DNS-querying terms (include, a, mx, ptr, exists, redirect) of `domain`'s
// record and of every record it includes or redirects to, counted the way a
// receiver counts them; for the check's "over 10 lookups" finding.
struct LookupCount {
  int lookups = 0;
  std::vector<std::string> path;  // "example.com: include:_spf.google.com" ... in the order counted
  std::string problem;            // a loop, a missing or broken included record, a temporary failure
};
LookupCount count_lookups(dns::Resolver& dns, const std::string& domain);

}  // namespace dmarq::spf
