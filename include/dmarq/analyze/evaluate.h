// Identifier alignment recomputed for one record, and why it fails.
//
// DMARC (RFC 7489 section 3.1 and 4.2) passes when an SPF or a DKIM result
// passes for a domain aligned with the RFC5322.From domain (header_from). We
// recompute both from the record's auth_results with the report's adkim and
// aspf, using the PSL for organizational domains (OrgDomains), and keep the
// reporter's own policy_evaluated beside ours.
//
// Every record gets reason codes: the outcome words below, the first one the
// main reason. A postmaster reads the sentence (sentence()), scripts read
// the code.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dmarq/analyze/domain.h"
#include "dmarq/model/aggregate.h"

namespace dmarq::analyze {

enum class Reason {
  // DMARC passes.
  aligned,             // aligned DKIM and aligned SPF both pass
  dkim_only,           // passes on aligned DKIM; SPF fails or is unaligned
  spf_only,            // passes on aligned SPF alone; breaks when forwarded
  // DMARC fails (main reason, most actionable first).
  forwarded,           // the reporter says forwarded / mailing list / trusted forwarder
  spf_pass_unaligned,  // SPF passes, but for another organization's domain
  dkim_pass_unaligned, // DKIM passes, but only for another organization's d=
  dkim_fail,           // signed with an aligned d=, and the signature fails
  spf_fail,            // SPF result fail
  spf_softfail,        // SPF result softfail (~all)
  spf_neutral,         // SPF result neutral (?all, or no usable record)
  spf_none,            // no SPF record, or no SPF result reported
  spf_error,           // temperror / permerror
  no_dkim,             // no DKIM signature for the domain (none, or only failing ones for others)
  // Not an outcome: our recomputation differs from the reporter's.
  reporter_disagrees,
};

std::string_view code(Reason reason);  // "spf_pass_unaligned", ...
bool is_pass(Reason reason);            // aligned, dkim_only, spf_only

struct Evaluation {
  bool dkim_aligned = false;   // an aligned DKIM result passed
  bool spf_aligned = false;    // an aligned SPF (MAIL FROM, else HELO) result passed
  bool dmarc_pass = false;     // dkim_aligned || spf_aligned
  // What the reporter said (policy_evaluated); empty when it said nothing.
  bool reporter_dkim = false, reporter_spf = false, reporter_pass = false;
  bool reporter_disagrees = false;  // reporter_dkim/spf differ from ours
  std::string spf_result;     // of the identity DMARC uses: pass, softfail, ... or "none"
  std::string spf_domain;     // that identity's domain (auth_results, else envelope_from)
  std::string dkim_domain;    // aligned passing d=, else the first passing d=, else the first d=
  std::string dkim_selector;  // of dkim_domain's result
  std::string dkim_result;    // of dkim_domain's result, "" when unsigned
  std::string override_type;  // first reporter override reason, if any
  std::vector<Reason> reasons;  // main reason first; reporter_disagrees last when set
  Reason main() const { return reasons.front(); }
};

// `header_from` falls back to the policy domain when the record has none.
Evaluation evaluate(const model::Record& record, const model::PolicyPublished& policy, OrgDomains& org);

// A human sentence for `reason` of evaluation `e` about `header_from`,
// e.g. "SPF passes for bounces.esp.example, which is not aligned with
// example.com: set up a custom return-path (bounce domain) under example.com."
std::string sentence(Reason reason, const Evaluation& e, std::string_view header_from);

}  // namespace dmarq::analyze
