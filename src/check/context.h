// Private to `dmarq check`: what its parts (SPF, DMARC, DKIM, mail hosts)
// share while one domain is checked.
//
// CheckResolver sits between the checks and the real resolver. It asks each
// (name, type) once per run, answers repeats from memory, and turns every
// temporary failure into a dns.temporary finding as the answer arrives, so
// no part of the check can mistake a timeout for "no record". It also keeps
// a budget: DNS data is the domain owner's (or an attacker's) to choose, and
// MX hosts, addresses and PTR names multiply; past the budget every lookup
// answers temporary with a note. Not thread-safe: one per check_domain call.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dmarq/analyze/domain.h"
#include "dmarq/check/check.h"
#include "dmarq/dns/resolver.h"

namespace dmarq::check::detail {

// Caps on what one check looks at. Each bounds a list an attacker controls.
inline constexpr std::size_t kMaxLookups = 400;         // DNS queries per check, cached ones not counted
inline constexpr std::size_t kMaxMxHosts = 10;          // MX hosts examined
inline constexpr std::size_t kMaxAddressesPerType = 4;  // A and AAAA addresses per host
inline constexpr std::size_t kMaxPtrNames = 4;          // PTR names followed back per address
inline constexpr std::size_t kMaxSelectors = 32;        // DKIM selectors looked up
inline constexpr std::size_t kMaxReportUris = 10;       // rua and ruf URIs examined per tag
inline constexpr std::size_t kMaxRecords = 8;           // records examined at one name

class CheckResolver : public dns::Resolver {
 public:
  CheckResolver(dns::Resolver& upstream, std::vector<Finding>& findings)
      : upstream_(upstream), findings_(findings) {}

  dns::Answer lookup(const std::string& name, dns::Type type) override;
  // Uncached queries go upstream together, so a concurrent resolver can
  // overlap them; answers in the order of `queries`.
  std::vector<dns::Answer> lookup_all(const std::vector<dns::Query>& queries) override;

  std::size_t asked() const { return asked_; }          // answers that came from upstream
  std::size_t offline() const { return offline_; }      // of those, Status::offline
  std::size_t temporary() const { return temporary_; }  // of those (and over budget), Status::temporary
  const std::vector<std::string>& offline_names() const { return offline_names_; }

 private:
  using Key = std::pair<std::string, dns::Type>;
  static Key key(const std::string& name, dns::Type type);
  dns::Answer over_budget() const;
  void remember(const Key& k, const std::string& name, dns::Type type, const dns::Answer& a);

  dns::Resolver& upstream_;
  std::vector<Finding>& findings_;
  std::map<Key, dns::Answer> cache_;
  std::size_t asked_ = 0, offline_ = 0, temporary_ = 0;
  bool budget_noted_ = false;
  std::vector<std::string> offline_names_;
};

struct Context {
  Context(CheckResolver& resolver, std::string checked_domain, std::vector<Finding>& out)
      : dns(resolver), domain(std::move(checked_domain)), findings(out) {}

  CheckResolver& dns;
  std::string domain;  // normalized: lower case, no trailing dot
  std::vector<Finding>& findings;
  analyze::OrgDomains org;

  void add(Severity severity, std::string code, std::string name, std::string record, std::string message,
           std::string fix);
  bool has(std::string_view code) const;
};

// --- Answers ----------------------------------------------------------------

// The name exists without the record, or does not exist: a real "no".
inline bool absent(const dns::Answer& a) {
  return a.status == dns::Status::nodata || a.status == dns::Status::nxdomain;
}
// Records came back (ok with data).
inline bool present(const dns::Answer& a) { return a.status == dns::Status::ok && !a.data.empty(); }

// --- Text -------------------------------------------------------------------

bool is_wsp(char c);  // space, TAB, CR, LF (the FWS of RFC 6376 without its structure)
std::string_view trim_wsp(std::string_view s);
// A host name we are willing to put in a query: at most 253 bytes, labels of
// 1..63 bytes of letters, digits, '-' and '_'. Lower case is not required.
bool is_query_name(std::string_view name);
// A piece of a record quoted in a message, cut to `max` bytes and "...", so
// that one bad record cannot make a message of kilobytes.
std::string clip(std::string_view s, std::size_t max = 60);
// Problems joined with "; ", the first few only: "a; b; c; d; and 7 more".
std::string join_problems(const std::vector<std::string>& problems);
// Records joined for the `record` field of a finding about several of them.
std::string join_records(const std::vector<std::string>& records);

// One tag=value list (RFC 6376 3.2, which DMARC reuses, RFC 7489 6.4).
struct Tag {
  std::string name;   // lower case
  std::string value;  // surrounding white space removed, case kept
};
struct TagList {
  std::vector<Tag> tags;               // in record order, duplicates kept
  std::vector<std::string> problems;   // sentence fragments: "'abc' is not a tag=value pair", ...
  const Tag* find(std::string_view name) const;
};
TagList parse_tag_list(std::string_view record);

// --- The parts, in the order their findings appear -------------------------

void check_spf(Context& ctx, const dns::Answer& apex_txt);
void check_dmarc(Context& ctx, const dns::Answer& apex_txt);
void check_dkim(Context& ctx, const Options& options);
void check_mail_hosts(Context& ctx);

// Shared by SPF coverage and the mail-host checks: the MX answer's hosts
// (null MX and unparsable entries left out), lowest preference first.
struct MxHost {
  int preference = 0;
  std::string host;  // lower case, no trailing dot
};
struct MxSet {
  dns::Answer answer;
  std::vector<MxHost> hosts;          // at most kMaxMxHosts
  std::size_t dropped = 0;            // hosts past the cap
  bool null_mx = false;               // "0 ." present (RFC 7505)
  std::vector<std::string> malformed; // entries that are not "PREF HOST"
};
MxSet mx_hosts(Context& ctx);
// The A then AAAA addresses of `host`, canonical, at most
// kMaxAddressesPerType of each; the answers are returned for their status.
struct HostAddresses {
  dns::Answer a, aaaa;
  std::vector<std::string> v4, v6;
};
HostAddresses host_addresses(Context& ctx, const std::string& host);

}  // namespace dmarq::check::detail
