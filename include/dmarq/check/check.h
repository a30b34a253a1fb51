// `dmarq check DOMAIN`: what is wrong with a domain's published SPF, DMARC,
// DKIM and mail-host records, each finding with a severity, a stable code,
// the record involved and a one-line fix.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dmarq/dns/resolver.h"

namespace dmarq::check {

enum class Severity { error, warning, info };
std::string_view severity_name(Severity s);  // "error", "warning", "info"

struct Finding {
  Severity severity = Severity::info;
  std::string code;     // stable, dotted: "spf.missing", "dmarc.p_none", "dkim.bad_format", "mx.no_ptr", ...
  std::string name;     // the DNS name the finding is about
  std::string record;   // the record text involved, empty when there is none
  std::string message;  // what is wrong (or what was found), one sentence
  std::string fix;      // what to do, one line; empty for info findings that need nothing
};

struct Options {
  std::vector<std::string> selectors;         // --selector, in the order given
  std::vector<std::string> report_selectors;  // DKIM selectors seen in stored reports for the domain
};

std::vector<Finding> check_domain(dns::Resolver& dns, const std::string& domain, const Options& options);

// True if any finding is an error (the command then exits 1).
bool has_error(const std::vector<Finding>& findings);

}  // namespace dmarq::check
