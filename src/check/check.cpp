// check_domain: the order of the checks and what happens when DNS cannot be
// asked at all. The checks themselves live beside this file, one per record
// family (spf_record.cpp, dmarc_record.cpp, dkim_key.cpp, mail_hosts.cpp).
#include "dmarq/check/check.h"

#include <fmt/format.h>

#include <algorithm>

#include "check/context.h"
#include "dmarq/analyze/domain.h"
#include "dmarq/model/ip.h"

namespace dmarq::check {

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::error: return "error";
    case Severity::warning: return "warning";
    case Severity::info: return "info";
  }
  return "unknown";
}

bool has_error(const std::vector<Finding>& findings) {
  return std::any_of(findings.begin(), findings.end(),
                     [](const Finding& f) { return f.severity == Severity::error; });
}

namespace {

Finding offline_finding(const std::string& domain) {
  return Finding{Severity::warning, "dns.offline", domain, "",
                 fmt::format("DNS was not queried (offline), so nothing about {} was checked.", domain),
                 "Run the check without --offline."};
}

}  // namespace

std::vector<Finding> check_domain(dns::Resolver& dns, const std::string& domain, const Options& options) {
  std::vector<Finding> findings;
  std::string name = analyze::normalize_domain(domain);
  if (!detail::is_query_name(name) || model::parse_ip(name)) {
    findings.push_back(Finding{
        Severity::error, "domain.invalid", name, "",
        "The name given is not a domain name that can be looked up (letters, digits, '-' and '_' in dot-separated "
        "labels).",
        "Give the domain as in the From: address, e.g. example.com; an internationalized name as its xn-- A-label."});
    return findings;
  }

  detail::CheckResolver resolver(dns, findings);
  detail::Context ctx(resolver, name, findings);

  // The apex TXT answer serves SPF and the "DMARC record at the apex"
  // mistake, and says whether the domain exists at all.
  dns::Answer apex = resolver.lookup(name, dns::Type::txt);
  if (apex.status == dns::Status::offline) return {offline_finding(name)};
  if (apex.status == dns::Status::nxdomain) {
    ctx.add(Severity::error, "domain.not_found", name, "",
            fmt::format("{} does not exist in DNS (NXDOMAIN), so it has no SPF, DMARC, DKIM or MX records.", name),
            "Check the spelling, and that the domain is registered and delegated to its name servers.");
    return findings;
  }

  detail::check_spf(ctx, apex);
  detail::check_dmarc(ctx, apex);
  detail::check_dkim(ctx, options);
  detail::check_mail_hosts(ctx);

  // A cache-backed offline resolver may answer some names and not others.
  if (resolver.offline() > 0) {
    if (resolver.offline() == resolver.asked()) return {offline_finding(name)};
    std::string names;
    for (const auto& n : resolver.offline_names()) names += (names.empty() ? "" : ", ") + n;
    ctx.add(Severity::warning, "dns.offline", name, "",
            fmt::format("{} of {} lookups were not made (offline: {}{}), so the checks that need them were skipped.",
                        resolver.offline(), resolver.asked(), names,
                        resolver.offline() > resolver.offline_names().size() ? ", ..." : ""),
            "Run the check without --offline.");
  }
  return findings;
}

}  // namespace dmarq::check
